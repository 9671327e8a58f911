// The SmsProvider port: what Switchboard needs from Plivo. Implemented by PlivoProvider (the real
// SDK, pointed at Plivo or at the simulator); test/contract/sms-provider.contract.ts runs against
// every implementation.

export interface SendRequest {
  /** E.164 sender (one of our numbers). */
  from: string;
  /** E.164 destination. */
  to: string;
  text: string;
  /** Where the provider posts status callbacks for this message. */
  statusCallbackUrl: string;
}

export interface AvailableNumber {
  /** E.164. */
  number: string;
  city: string | null;
  region: string | null;
  monthlyRentalRate: string | null;
  smsEnabled: boolean;
  voiceEnabled: boolean;
}

export interface NumberSearch {
  /** NPA, three digits. */
  areaCode: string;
  /** NXX (the exchange), three digits, optional. */
  prefix?: string;
  limit: number;
}

export interface OwnedNumber {
  number: string;
  appId: string | null;
}

export interface ApplicationUrls {
  name: string;
  messageUrl: string;
  answerUrl: string;
}

export interface SmsProvider {
  readonly name: string;
  /** Resolves with the provider's message id once the provider accepted the message. */
  send(req: SendRequest): Promise<{ providerId: string }>;
  searchNumbers(q: NumberSearch): Promise<AvailableNumber[]>;
  /** Rents the number and routes it to `appId`. */
  buyNumber(number: string, appId: string): Promise<void>;
  /** Routes an owned number to `appId`. */
  routeNumber(number: string, appId: string): Promise<void>;
  listOwnedNumbers(): Promise<OwnedNumber[]>;
  releaseNumber(number: string): Promise<void>;
  /**
   * Makes sure an application with these webhook URLs exists and points at them; resolves its id.
   * Idempotent: finds an application by name and updates it.
   */
  ensureApplication(app: ApplicationUrls): Promise<string>;
}
