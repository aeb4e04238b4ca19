/** The moments of a run a notifier can be told about (config `notify.on`). */
export const NOTIFY_TRIGGERS = ['start', 'success', 'failure', 'abort'] as const;
export type NotifyTrigger = (typeof NOTIFY_TRIGGERS)[number];
