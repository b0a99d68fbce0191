/**
 * The Temporal header that carries the id of the HTTP request behind a
 * workflow start, signal or update, and on from the workflow to the
 * activities it schedules. A pure name: workflow code imports it.
 */
export const REQUEST_ID_HEADER = 'ledgerflow-request-id';
