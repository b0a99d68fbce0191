import { defineSignal } from '@temporalio/workflow';

/*
 * Messages to a top-up's workflow (credit-top-up:<id>). Only @temporalio/workflow here: the workflow bundle and the
 * API import it alike.
 */

/** The invoice.paid webhook granted a top-up paid by invoice: its workflow stops waiting for the due date. */
export const topUpPaidSignal = defineSignal('topUpPaid');
