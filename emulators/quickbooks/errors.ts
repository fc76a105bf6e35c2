// Intuit's Fault JSON: {"Fault":{"Error":[{"Message","Detail","code","element"}],"type"},"time"} with `code` a
// string (reference §2.6-2.7). The 401 body uses a different, lowercase shape (see auth401Body).

export interface FaultError {
  Message: string;
  Detail: string;
  code: string;
  element?: string;
}

export type FaultType = 'ValidationFault' | 'SystemFault' | 'AuthenticationFault' | 'AuthorizationFault' | 'SERVICE';

export class QboFault extends Error {
  constructor(
    readonly status: number,
    readonly type: FaultType,
    readonly errors: FaultError[],
    /** Whether the answer carries `time`: Intuit's 2030 for a malformed id comes without it (VCR error/500.yml). */
    readonly withTime = true,
  ) {
    super(errors.map((e) => `${e.code} ${e.Message}: ${e.Detail}`).join('; '));
  }

  /**
   * The Fault object. Recorded answers differ by place: a batch item's errors carry `element:""` (VCR
   * batch/basic.yml), a request's own Fault leaves an empty element out (VCR error/validation.yml, error/400.yml).
   */
  body(inBatch = false): { Fault: { Error: FaultError[]; type: FaultType } } {
    const errors = this.errors.map((e) => {
      if (e.element !== undefined && e.element !== '') return e;
      const { element: _element, ...rest } = e;
      return inBatch ? { ...rest, element: '' } : rest;
    });
    return { Fault: { Error: errors, type: this.type } };
  }
}

const validation = (code: string, Message: string, Detail: string, element = ''): QboFault =>
  new QboFault(400, 'ValidationFault', [{ Message, Detail, code, element }]);

export const faults = {
  objectNotFound: (entity: string, id: string): QboFault =>
    validation(
      '610',
      'Object Not Found',
      `Object Not Found : Something you're trying to use has been made inactive or deleted. Check the fields with accounts, customers, items, vendors or employees. (${entity} ${id})`,
    ),
  inactiveReference: (entity: string, id: string, element: string): QboFault =>
    validation(
      '610',
      'Object Not Found',
      `Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees. (${entity} ${id})`,
      element,
    ),
  invalidReference: (entity: string, id: string, element: string): QboFault =>
    validation(
      '2500',
      'Invalid Reference Id',
      `Invalid Reference Id : ${entity} assigned to this transaction has been deleted or does not exist: ${id}`,
      element,
    ),
  requiredMissing: (element: string, detail?: string): QboFault =>
    validation(
      '2020',
      'Required param missing, need to supply the required value for the API',
      detail ?? `Required parameter ${element} is missing in the request`,
      element,
    ),
  // The recorded 2010 names the property in its Detail only, with no element (VCR error/400_json.yml).
  unknownProperty: (property: string, entity: string, known: string[]): QboFault =>
    validation(
      '2010',
      'Request has invalid or unsupported property',
      `Property Name:Unrecognized field "${property}" (class com.intuit.schema.finance.v3.${entity}), not marked as ignorable (${known.length} known properties: ${known.map((k) => `"${k}"`).join(', ')})\n specified is unsupported or invalid`,
    ),
  invalidEnum: (element: string, value: string, allowed: string[]): QboFault =>
    validation(
      '2170',
      'Invalid Enumeration',
      `Invalid Enumeration : ${value} is not a valid value for ${element}; expected one of ${allowed.join(', ')}`,
      element,
    ),
  invalidValue: (element: string, detail: string): QboFault => validation('2050', 'Invalid String', detail, element),
  invalidNumber: (element: string, value: unknown): QboFault =>
    validation('2040', 'Invalid Number', `Invalid Number : ${element} has an invalid value: ${String(value)}`, element),
  staleObject: (entity: string, id: string): QboFault =>
    validation(
      '5010',
      'Stale Object Error',
      `Stale Object Error : You and ledgerlink emulator were working on this at the same time. ledgerlink emulator finished before you did, so your work was not saved. (${entity} ${id})`,
    ),
  duplicateName: (name: string, entity: string, id: string): QboFault =>
    validation(
      '6240',
      'Duplicate Name Exists Error',
      `The name supplied already exists. : Another customer, vendor or employee is already using this name. Please use a different name. Id=${id}; ${entity} ${name}`,
    ),
  duplicateItemName: (name: string, id: string): QboFault =>
    validation(
      '6240',
      'Duplicate Name Exists Error',
      `The name supplied already exists. : Another product or service is already using this name. Please provide a different name. Id=${id}; Item ${name}`,
    ),
  duplicateListName: (entity: string, name: string, id: string): QboFault =>
    validation(
      '6240',
      'Duplicate Name Exists Error',
      `The name supplied already exists. : Another ${entity} is already using this name. Id=${id}; ${name}`,
    ),
  duplicateDocNumber: (docNumber: string): QboFault =>
    validation(
      '6140',
      'Duplicate Document Number Error',
      `Duplicate Document Number Error : You must specify a different number. This number has already been used. DocNumber=${docNumber} is assigned to TxnType=Invoice with TxnId=...`.replace(
        'TxnType=Invoice with TxnId=...',
        'another transaction',
      ),
    ),
  // 6070/6080/6090/6100 come from Intuit's published error-code table (IPP error codes).
  amountMismatch: (supplied: string, expected: string): QboFault =>
    validation(
      '6070',
      'Amount calculation incorrect in the request',
      `Amount is not equal to Qty * UnitPrice. Supplied value:${supplied} (expected ${expected})`,
      'Line.Amount',
    ),
  noNameProvided: (): QboFault =>
    validation(
      '6080',
      'No Name Provided',
      'Title, GivenName, MiddleName, FamilyName, DisplayName, Suffix - one of these must be non-empty',
      'DisplayName',
    ),
  discountIncomplete: (): QboFault =>
    validation(
      '6090',
      'Discount Line missing required info.',
      'Discount amount or percent should be provided.',
      'DiscountLineDetail',
    ),
  invalidUsLineTaxCode: (value: string): QboFault =>
    validation(
      '6100',
      'Invalid Line TaxCode in the request',
      `Valid Line TaxCodes for US should be TAX or NON. Supplied value:${value}`,
      'TaxCodeRef',
    ),
  accountTypeMissing: (): QboFault =>
    validation(
      '6010',
      'Invalid Account.AccountType && Account.SubType',
      'Either an Account.AccountType or an Account.AccountSubType must be specified',
      'AccountType',
    ),
  business: (detail: string, element = ''): QboFault =>
    validation(
      '6000',
      'A business validation error has occurred while processing your request',
      `Business Validation Error: ${detail}`,
      element,
    ),
  queryParse: (detail: string): QboFault => validation('4000', 'Error parsing query', `QueryParserError: ${detail}`),
  queryInvalid: (detail: string): QboFault => validation('4001', 'Invalid query', `QueryValidationError: ${detail}`),
  // "SELECT * FROM Custmoer" answers this Detail (VCR error/400.yml).
  unknownQueryEntity: (name: string): QboFault =>
    validation('4001', 'Invalid query', `QueryValidationError: invalid context declaration: ${name}`),
  // GET /customer/1.5 answers 2030 naming the Id element, without `time` (VCR error/500.yml).
  invalidId: (value: string): QboFault =>
    new QboFault(
      400,
      'ValidationFault',
      [
        {
          Message: 'Invalid ID',
          Detail: `Id should be a valid number. Supplied value:${value}`,
          code: '2030',
          element: 'Id',
        },
      ],
      false,
    ),
  unsupported: (detail: string): QboFault =>
    validation('500', 'Unsupported Operation', `Operation ${detail} is not supported.`),
  // Intuit answers an unreadable body with 2010 "Property Name:failed to parse json object; ..." (DotNet SDK issue #376).
  malformedRequest: (detail: string): QboFault =>
    validation(
      '2010',
      'Request has invalid or unsupported property',
      `Property Name:failed to parse json object; a property specified is unsupported or invalid (${detail})`,
    ),
  batchTooLarge: (count: number, max: number): QboFault =>
    validation(
      '1040',
      'Batch size exceeds allowed limit',
      `Batch size exceeds allowed limit: ${count} items sent, at most ${max} allowed`,
    ),
  // Intuit answers an over-old changedSince as an unsupported operation (seen in QuickBooksSharp issue #19).
  cdcTooOld: (since: string): QboFault =>
    validation(
      '500',
      'Unsupported Operation',
      `Operation cdc with changedSince date ${since} which is older than fixed days is not supported.`,
    ),
  throttled: (): QboFault =>
    new QboFault(429, 'SERVICE', [
      {
        Message: 'message=ThrottleExceeded; errorCode=003001; statusCode=429',
        Detail: 'The request limit was reached.  Try again later',
        code: '3001',
      },
    ]),
  systemError: (status: number): QboFault =>
    new QboFault(status, 'SystemFault', [
      {
        Message: 'An application error has occurred while processing your request',
        Detail: `System Failure Error: injected HTTP ${status}`,
        code: '10000',
      },
    ]),
  forbidden: (detail: string): QboFault =>
    new QboFault(403, 'AuthorizationFault', [
      {
        Message: 'message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403',
        Detail: detail,
        code: '3100',
      },
    ]),
};

/** Intuit's 401 answer (verified VCR error/401.yml): lowercase keys, code 3200, plus a WWW-Authenticate header. */
export function auth401Body(detail: string, nowMs: number): Record<string, unknown> {
  return {
    warnings: null,
    intuitObject: null,
    fault: {
      error: [
        {
          message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401',
          detail,
          code: '3200',
          element: null,
        },
      ],
      type: 'AUTHENTICATION',
    },
    report: null,
    queryResponse: null,
    batchItemResponse: [],
    attachableResponse: [],
    syncErrorResponse: null,
    requestId: null,
    time: nowMs,
    status: null,
    cdcresponse: [],
  };
}

export const WWW_AUTHENTICATE_401 = 'Bearer realm="Intuit", error="invalid_token"';
