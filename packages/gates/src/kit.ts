// The kit, through one door: what the gate engine uses of it (errors, the process-wide secret
// masker, the one retry policy, untrusted text, URLs fit to show).
export { ActionFailure, secrets, UserError } from '@shipline/kit';
export { redactUrl, urlSecrets } from '@shipline/kit/redact-url';
export { errorCode, isRetryableError, isRetryableStatus, NETWORK_ERROR_WORDS, type RetryOptions, RetrySchedule, sleep } from '@shipline/kit/retry';
export { untrusted } from '@shipline/kit/untrusted';
