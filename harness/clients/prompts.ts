/**
 * Event-driven prompt answering for exec clients. Typing ahead is a race: password readers switch the
 * echo off with `tcsetattr(TCSAFLUSH)`, which discards input already typed, so a PIN sent early can
 * reach the card empty or cut (runner notes §3). Each reply is therefore sent only after its prompt
 * appeared in the normalised output, after the position where the previous prompt matched, in order,
 * once; and only once the output has been quiet for a short settle, so that the client has finished
 * switching its terminal mode. The settle watches the output (it restarts on every chunk), with a cap
 * for clients that never go quiet (a spinner).
 */
export interface Answer {
  prompt: string;
  reply: string;
}

export interface PromptTiming {
  /** Quiet period after the prompt before the reply is sent. */
  settleMs: number;
  /** The reply goes out at the latest this long after its prompt, quiet or not. */
  maxSettleMs: number;
}

export const DEFAULT_PROMPT_TIMING: PromptTiming = { settleMs: 30, maxSettleMs: 500 };

export class PromptAnswerer {
  private next = 0;
  /** Where in the transcript the last prompt ended: the next prompt must appear after it. */
  private cursor = 0;
  private transcript = '';
  private matchedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly answers: readonly Answer[],
    private readonly send: (reply: string) => void,
    private readonly timing: PromptTiming = DEFAULT_PROMPT_TIMING,
  ) {}

  /** New normalised output (the transcript only grows). */
  push(text: string): void {
    if (this.stopped) return;
    this.transcript += text;
    if (this.timer)
      this.armSettle(); // a prompt is settling: output is not quiet yet
    else this.lookForPrompt();
  }

  /** The prompts whose reply was never sent. */
  unanswered(): string[] {
    return this.answers.slice(this.next).map((a) => a.prompt);
  }

  /** All replies sent (the driver may then close a pipe's stdin). */
  get done(): boolean {
    return this.next >= this.answers.length;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private lookForPrompt(): void {
    const answer = this.answers[this.next];
    if (!answer) return;
    const at = this.transcript.indexOf(answer.prompt, this.cursor);
    if (at < 0) return;
    this.cursor = at + answer.prompt.length;
    this.matchedAt = performance.now();
    this.armSettle();
  }

  private armSettle(): void {
    clearTimeout(this.timer);
    const left = this.matchedAt + this.timing.maxSettleMs - performance.now();
    this.timer = setTimeout(() => this.reply(), Math.max(0, Math.min(this.timing.settleMs, left)));
  }

  private reply(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const answer = this.answers[this.next++]!;
    this.send(answer.reply);
    this.lookForPrompt(); // the next prompt may already be in the transcript
  }
}
