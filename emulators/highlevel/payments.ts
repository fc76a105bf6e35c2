// Payments as a CRM user produces them (reference §4): order forms and funnels, subscriptions and their renewals,
// memberships, calendar booking payments, refunds. Each action creates the records HighLevel would and only the
// webhooks HighLevel sends: OrderCreate and OrderStatusUpdate for orders; nothing for transactions,
// subscriptions or refunds (HighLevel has no such events).
import type { HighLevelCore } from './core.ts';
import type { ContactService } from './contacts.ts';
import { badRequest, notFound } from './errors.ts';
import { alphanumericId, objectId } from './ids.ts';
import type {
  Contact,
  InvoiceTax,
  Location,
  Order,
  OrderItem,
  PaymentSource,
  Subscription,
  Transaction,
} from './model.ts';
import { toMajor, toMinor } from './money.ts';
import { orderTotals, snapshotOfContact } from './serialize.ts';
import { orderEventPayload } from './webhookPayloads.ts';

export interface BuyerInput {
  email?: string | undefined;
  phone?: string | undefined;
  firstName?: string | undefined;
  lastName?: string | undefined;
  companyName?: string | undefined;
}

export interface ItemInput {
  name: string;
  productId?: string | undefined;
  /** Unit price in major units. */
  amount: number;
  qty?: number | undefined;
  taxes?: Array<{ name: string; rate: number; _id?: string | undefined }> | undefined;
  recurring?: { interval: 'day' | 'week' | 'month' | 'year'; intervalCount?: number | undefined } | undefined;
}

export interface CheckoutInput {
  contact: BuyerInput;
  items: ItemInput[];
  currency?: string | undefined;
  /** Fixed discount in major units (a coupon). */
  discount?: number | undefined;
  couponCode?: string | undefined;
  source: PaymentSource;
  liveMode?: boolean | undefined;
  card?: { brand: string; last4: string } | undefined;
}

export interface CheckoutResult {
  contact: Contact;
  order: Order;
  transaction: Transaction;
  subscription: Subscription | null;
}

const INTERVAL_MS: Record<Subscription['interval'], number> = {
  day: 86_400_000,
  week: 7 * 86_400_000,
  month: 30 * 86_400_000,
  year: 365 * 86_400_000,
};

export class PaymentService {
  constructor(
    private readonly core: HighLevelCore,
    private readonly contacts: ContactService,
  ) {}

  private location(locationId: string): Location {
    const location = this.core.store.locations.get(locationId);
    if (!location) throw notFound('Location not found');
    return location;
  }

  /** A checkout: contact upserted, order created (OrderCreate), charge taken (transaction, no webhook), order completed (OrderStatusUpdate). */
  checkout(locationId: string, input: CheckoutInput): CheckoutResult {
    const location = this.location(locationId);
    if (!input.contact.email && !input.contact.phone) throw badRequest('The buyer needs an email or a phone');
    if (input.items.length === 0) throw badRequest('At least one item is required');
    const currency = (input.currency ?? location.currency).toUpperCase();
    const { contact } = this.contacts.upsert(
      location.id,
      {
        email: input.contact.email,
        phone: input.contact.phone,
        firstName: input.contact.firstName,
        lastName: input.contact.lastName,
        companyName: input.contact.companyName,
        source: input.source.name,
      },
      `payment:${input.source.type}`,
    );
    if (contact.type !== 'customer') contact.type = 'customer';
    const now = this.core.nowMs();
    const items: OrderItem[] = input.items.map((i) => ({
      _id: objectId(now),
      name: i.name,
      qty: i.qty ?? 1,
      unitMinor: toMinor(i.amount, currency),
      productId: i.productId ?? objectId(now),
      priceId: objectId(now),
      priceType: i.recurring ? 'recurring' : 'one_time',
      taxes: (i.taxes ?? []).map(
        (t): InvoiceTax => ({ _id: t._id ?? objectId(now), name: t.name, rate: t.rate, calculation: 'exclusive' }),
      ),
      ...(i.recurring
        ? { recurring: { interval: i.recurring.interval, intervalCount: i.recurring.intervalCount ?? 1 } }
        : {}),
    }));
    const order: Order = {
      id: objectId(now),
      locationId: location.id,
      contactId: contact.id,
      currency,
      status: 'pending',
      paymentStatus: 'unpaid',
      fulfillmentStatus: 'unfulfilled',
      liveMode: input.liveMode ?? true,
      source: input.source,
      items,
      discountMinor: input.discount ? toMinor(input.discount, currency) : 0,
      couponCode: input.couponCode,
      contactSnapshot: snapshotOfContact(contact),
      createdAt: now,
      updatedAt: now,
      createdBy: contact.id,
    };
    this.core.store.orders.set(order.id, order);
    this.core.webhooks.emit('OrderCreate', location.id, orderEventPayload('OrderCreate', order));

    let subscription: Subscription | null = null;
    const recurringItem = items.find((i) => i.recurring);
    if (recurringItem?.recurring) {
      const providerId = `sub_${alphanumericId(14)}`;
      subscription = {
        id: objectId(now),
        locationId: location.id,
        contactId: contact.id,
        currency,
        amountMinor: orderTotals(order).total,
        status: 'active',
        liveMode: order.liveMode,
        entityType: 'order',
        entityId: order.id,
        entitySource: input.source,
        providerSubscriptionId: providerId,
        contactSnapshot: order.contactSnapshot,
        interval: recurringItem.recurring.interval,
        intervalCount: recurringItem.recurring.intervalCount,
        productName: recurringItem.name,
        createdAt: now,
        updatedAt: now,
        canceledAt: null,
        renewals: 0,
      };
      this.core.store.subscriptions.set(subscription.id, subscription);
    }
    const transaction = this.charge(order, orderTotals(order).total, input.card, subscription);
    order.status = 'completed';
    order.paymentStatus = 'paid';
    order.updatedAt = this.core.nowMs();
    this.core.webhooks.emit('OrderStatusUpdate', location.id, orderEventPayload('OrderStatusUpdate', order));
    return { contact, order, transaction, subscription };
  }

  private charge(
    order: Order,
    amountMinor: number,
    card: { brand: string; last4: string } | undefined,
    subscription: Subscription | null,
  ): Transaction {
    const now = this.core.nowMs();
    const transaction: Transaction = {
      id: objectId(now),
      locationId: order.locationId,
      contactId: order.contactId,
      currency: order.currency,
      amountMinor,
      amountRefundedMinor: 0,
      status: 'succeeded',
      liveMode: order.liveMode,
      entityType: 'order',
      entityId: order.id,
      entitySource: order.source,
      contactSnapshot: order.contactSnapshot,
      ...(subscription ? { subscriptionId: subscription.providerSubscriptionId } : {}),
      chargeId: subscription ? `in_${alphanumericId(24)}` : `ch_${alphanumericId(24)}`,
      paymentProviderType: 'stripe',
      paymentMethod: { card: card ?? { brand: 'visa', last4: '4242' } },
      createdAt: now,
      updatedAt: now,
      fulfilledAt: now,
      createdBy: order.contactId,
    };
    this.postedByBuiltInQuickBooks(transaction);
    this.core.store.transactions.set(transaction.id, transaction);
    return transaction;
  }

  /**
   * The location's built-in QuickBooks integration, when on, posts every order payment as a sales receipt (its help
   * article: order forms, subscription payments, memberships, calendar payments) and keeps QuickBooks' answer on
   * the transaction. The spec's example of `qboResponse` is that answer's entity: `{domain, sparse, Id, SyncToken,
   * TotalAmt}`. Here it is written at once; HighLevel does it shortly after the charge.
   */
  private postedByBuiltInQuickBooks(transaction: Transaction): void {
    const integration = this.core.store.locations.get(transaction.locationId)?.builtInQuickBooks;
    if (!integration?.active) return;
    const id = integration.qboIds.shift() ?? String(integration.nextQboId++);
    transaction.qboResponse = {
      domain: 'QBO',
      sparse: false,
      Id: id,
      SyncToken: '0',
      TotalAmt: toMajor(transaction.amountMinor, transaction.currency),
    };
  }

  /** One renewal charge of an active subscription: a transaction carrying `subscriptionId`, and no webhook. */
  renew(subscription: Subscription, options: { advanceClock?: boolean } = {}): Transaction {
    if (subscription.status !== 'active' && subscription.status !== 'trialing')
      throw badRequest(`Subscription is ${subscription.status}`);
    if (options.advanceClock) this.core.clock.advance(INTERVAL_MS[subscription.interval] * subscription.intervalCount);
    const order = this.core.store.orders.get(subscription.entityId);
    if (!order) throw notFound('The subscription has lost its order');
    // A renewal charges the card stored at checkout, as the payment provider does.
    const first = [...this.core.store.transactions.values()].find(
      (t) => t.subscriptionId === subscription.providerSubscriptionId,
    );
    const stored = (first?.paymentMethod as { card?: { brand: string; last4: string } } | undefined)?.card;
    const tx = this.charge(order, subscription.amountMinor, stored, subscription);
    subscription.renewals += 1;
    subscription.updatedAt = tx.createdAt;
    return tx;
  }

  nextChargeAt(subscription: Subscription): number {
    return (
      subscription.createdAt +
      INTERVAL_MS[subscription.interval] * subscription.intervalCount * (subscription.renewals + 1)
    );
  }

  cancel(subscription: Subscription): Subscription {
    if (subscription.status === 'canceled') throw badRequest('Subscription is already canceled');
    subscription.status = 'canceled';
    subscription.canceledAt = this.core.nowMs();
    subscription.updatedAt = subscription.canceledAt;
    return subscription;
  }

  /**
   * Refunds (part of) a transaction: `amountRefunded` grows, status becomes partially_refunded or refunded, and the
   * order's paymentStatus follows. HighLevel sends no webhook for refunds; integrations find them by polling.
   */
  refund(transaction: Transaction, amount?: number): Transaction {
    if (transaction.status === 'refunded') throw badRequest('Transaction is already fully refunded');
    if (transaction.status !== 'succeeded' && transaction.status !== 'partially_refunded')
      throw badRequest(`Transaction is ${transaction.status}`);
    const refundable = transaction.amountMinor - transaction.amountRefundedMinor;
    const minor = amount === undefined ? refundable : toMinor(amount, transaction.currency);
    if (minor <= 0 || minor > refundable)
      throw badRequest('Refund amount must be positive and not exceed the amount left to refund');
    transaction.amountRefundedMinor += minor;
    transaction.status = transaction.amountRefundedMinor >= transaction.amountMinor ? 'refunded' : 'partially_refunded';
    transaction.updatedAt = this.core.nowMs();
    if (transaction.entityType === 'order') {
      const order = this.core.store.orders.get(transaction.entityId);
      if (order) {
        let paid = 0;
        let refunded = 0;
        for (const t of this.core.store.transactions.ofLocation(order.locationId)) {
          if (t.entityType === 'order' && t.entityId === order.id) {
            paid += t.amountMinor;
            refunded += t.amountRefundedMinor;
          }
        }
        order.paymentStatus = refunded >= paid ? 'refunded' : 'partially_refunded';
        order.updatedAt = transaction.updatedAt;
      }
    }
    return transaction;
  }

  /** POST /payments/orders/{id}/record-payment: a manual payment against an unpaid order. */
  recordOrderPayment(
    order: Order,
    input: {
      mode: string;
      amount?: number | undefined;
      card?: { type: string; last4: string } | undefined;
      isPartialPayment?: boolean | undefined;
    },
  ): Transaction {
    if (order.paymentStatus === 'paid') throw badRequest('Order is already paid');
    let paid = 0;
    for (const t of this.core.store.transactions.ofLocation(order.locationId))
      if (t.entityType === 'order' && t.entityId === order.id) paid += t.amountMinor;
    const due = orderTotals(order).total - paid;
    const amount = input.amount !== undefined ? toMinor(input.amount, order.currency) : due;
    if (amount <= 0 || amount > due) throw badRequest('Amount must be positive and not exceed the amount due');
    const tx = this.charge(
      order,
      amount,
      input.card ? { brand: input.card.type, last4: input.card.last4 } : undefined,
      null,
    );
    tx.paymentProviderType = 'manual';
    tx.paymentMethod = { mode: input.mode, ...(input.card ? { card: input.card } : {}) };
    const fully = amount === due;
    order.paymentStatus = fully ? 'paid' : 'partially_paid';
    order.updatedAt = tx.createdAt;
    if (fully && order.status !== 'completed') {
      order.status = 'completed';
      this.core.webhooks.emit('OrderStatusUpdate', order.locationId, orderEventPayload('OrderStatusUpdate', order));
    }
    return tx;
  }
}
