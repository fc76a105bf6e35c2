// The lines of a QuickBooks Payment once its application to one invoice is removed, as a sparse update sends them.

export interface PaymentLineRead {
  Amount?: number | undefined;
  LinkedTxn?: ReadonlyArray<{ TxnId: string; TxnType: string; [other: string]: unknown }> | undefined;
  [other: string]: unknown;
}

export interface PaymentLineWrite {
  Amount?: number;
  LinkedTxn: Array<{ TxnId: string; TxnType: string }>;
}

/**
 * The payment's other lines, with only their writable parts: QuickBooks answers each applied line with an opaque
 * `LineEx` (txnId, txnOpenBalance, txnReferenceNumber: recorded in NangoHQ/integration-templates' QuickBooks
 * payment tests), and a sparse update must not send read-only parts back. Undefined when no line applies to the
 * invoice (nothing to remove).
 */
export function paymentLinesWithout(
  lines: readonly PaymentLineRead[],
  invoiceId: string,
): PaymentLineWrite[] | undefined {
  const kept = lines.filter(
    (line) => !(line.LinkedTxn ?? []).some((l) => l.TxnType === 'Invoice' && l.TxnId === invoiceId),
  );
  if (kept.length === lines.length) return undefined;
  return kept.map((line) => ({
    ...(line.Amount !== undefined ? { Amount: line.Amount } : {}),
    LinkedTxn: (line.LinkedTxn ?? []).map((l) => ({ TxnId: l.TxnId, TxnType: l.TxnType })),
  }));
}
