import type { ApiOperation, ApiRequest, ApiResponse } from './plivo-api.js';
import type { HandsetMessage, TextInResult } from './plivo-simulator.js';
import type { CallResult } from './voice.js';

// What the simulator's HTTP routes need from it: its Plivo API and the handset controls. A
// PlivoSimulator is one (on the calling thread); a SimulatorThread is one that runs the
// PlivoSimulator on a worker thread.

export interface SimulatorService {
  readonly authId: string;
  readonly authToken: string;
  readonly api: { handle(op: ApiOperation, req: ApiRequest): Promise<ApiResponse> };
  /** A phone texts one of our numbers. */
  textIn(input: { from: string; to: string; text: string }): Promise<TextInResult>;
  /** What a phone (E.164) has received from our numbers, oldest first. */
  inbox(handset: string): HandsetMessage[] | Promise<HandsetMessage[]>;
  /** A phone calls one of our numbers. */
  placeCall(input: { from: string; to: string }): Promise<CallResult>;
  close(): Promise<void>;
}
