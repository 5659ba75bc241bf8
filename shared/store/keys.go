package store

import (
	"fmt"
	"strings"

	"dunlin/shared/billing"
)

// Attribute names of the table's keys. Generic names let one table and two
// overloaded indexes serve every entity; keys.go is the only place that
// decides what goes in them.
const (
	attrPK     = "PK"
	attrSK     = "SK"
	attrGSI1PK = "GSI1PK"
	attrGSI1SK = "GSI1SK"
	attrGSI2PK = "GSI2PK"
	attrGSI2SK = "GSI2SK"
	attrGSI3PK = "GSI3PK"
	attrGSI3SK = "GSI3SK"
	attrGSI4PK = "GSI4PK"
	attrGSI4SK = "GSI4SK"
	attrTTL    = "expires_at" // epoch seconds; DynamoDB deletes the item after it
)

// Index names and their key attributes.
const (
	indexByCustomer = "GSI1"
	indexByKind     = "GSI2"
	indexWorkQueue  = "GSI3"
	indexFollowUps  = "GSI4"
)

// QueueShards is how many partitions the work queue is spread over. A
// customer's invoices share a shard, so the sweep sees a customer's due
// invoices together; the sweep reads every shard each run.
const QueueShards = 8

// Key prefixes, one per entity. Changing one orphans stored data.
const (
	prefixCustomer   = "CUSTOMER#"
	prefixCustExtID  = "CUSTEXT#"
	prefixInvoice    = "INVOICE#"
	prefixInvNumber  = "INVNUM#"
	prefixInvExtID   = "INVEXT#"
	prefixKey        = "KEY#"
	prefixIdempotent = "IDEM#"
	prefixCounter    = "COUNTER#"
	prefixSend       = "SEND#"
	prefixContact    = "CONTACT#"
	prefixPolicy     = "POLICY#"
	prefixTemplate   = "TEMPLATE#"
	prefixPayment    = "PAYMENT#"
	prefixPayExtID   = "PAYEXT#"
	prefixPayRef     = "PAYREF#"
	prefixCreditNote = "CREDITNOTE#"
	prefixEvent      = "EVENT#"
	prefixPromise    = "PROMISE#"
	prefixAlert      = "ALERT#"

	// partUnmatched is the GSI1 partition of payments no customer is known for.
	partUnmatched = "UNMATCHED"
	// partHold is the GSI1 partition of customers on credit hold.
	partHold = "HOLD"
	// partFollowUp is the GSI4 partition of customers with a next contact date.
	partFollowUp = "FOLLOWUP"

	kindCustomer = "CUSTOMER"
	kindInvoice  = "INVOICE"
	kindKey      = "KEY"
	kindDraft    = "DRAFT"
	kindSent     = "SENT"
	kindPromise  = "PROMISE"
	kindPayment  = "PAYMENT"
	kindAlert    = "ALERT"
)

type key struct{ PK, SK string }

func customerKey(id string) key { return key{prefixCustomer + id, "CUSTOMER"} }
func invoiceKey(id string) key  { return key{prefixInvoice + id, "INVOICE"} }
func apiKeyKey(id string) key   { return key{prefixKey + id, "KEY"} }
func paymentKey(id string) key  { return key{prefixPayment + id, "PAYMENT"} }
func creditNoteKey(id string) key {
	return key{prefixCreditNote + id, "CREDITNOTE"}
}

// accountKey is a customer's credit on account, beside the customer item
// (not in it, so that postings can ADD to it while others rewrite the customer).
func accountKey(customerID string) key { return key{prefixCustomer + customerID, "ACCOUNT"} }

// eventKey marks a provider's webhook event as processed.
func eventKey(provider, id string) key { return key{prefixEvent + provider + "#" + id, "EVENT"} }

// paymentRefKey makes a provider's payment id unique: every event about
// that payment finds the one payment record.
func paymentRefKey(provider, ref string) key {
	return key{prefixPayRef + provider + "#" + ref, "GUARD"}
}
func paymentExtIDKey(ext string) key { return key{prefixPayExtID + ext, "GUARD"} }

// paymentGSI1 lists an applied payment under its customer (or as
// unmatched) by date received; a provider payment whose success is not yet
// known is in no list but the list of all payments.
func paymentGSI1(p *billing.Payment) (pk, sk string) {
	if !p.Applied {
		return "", ""
	}
	pk = partUnmatched
	if p.CustomerID != "" {
		pk = prefixCustomer + p.CustomerID
	}
	return pk, prefixPayment + p.ReceivedOn.String() + "#" + p.ID
}

// Uniqueness guards: one item per unique value, written in the same
// transaction as the record that owns the value, with attribute_not_exists.
// That is what makes uniqueness atomic without a read first.
func customerExtIDKey(ext string) key { return key{prefixCustExtID + ext, "GUARD"} }
func invoiceExtIDKey(ext string) key  { return key{prefixInvExtID + ext, "GUARD"} }

// Invoice numbers are unique regardless of case: "inv-1" and "INV-1" are the
// same number to an accountant.
func invoiceNumberKey(number string) key {
	return key{prefixInvNumber + strings.ToUpper(number), "GUARD"}
}

func counterKey(name string) key { return key{prefixCounter + name, "COUNTER"} }

func idempotencyKey(scope, k string) key {
	return key{prefixIdempotent + scope + "#" + k, "IDEMPOTENCY"}
}

// Invoice index keys sort by state, then due date, then id, so "open and due
// before D" or "paid" is a single key range.
func invoiceStateSort(state billing.InvoiceState, due, id string) string {
	return string(state) + "#" + due + "#" + id
}

func invoiceGSI1(inv *billing.Invoice) (pk, sk string) {
	return prefixCustomer + inv.CustomerID, prefixInvoice + invoiceStateSort(inv.State, inv.DueOn.String(), inv.ID)
}

// invoiceGSI3 is the work-queue entry: empty (so the item is absent from the
// sparse index) unless a dunning action is pending.
func invoiceGSI3(inv *billing.Invoice) (pk, sk string) {
	if inv.State != billing.StateOpen || inv.Disputed || inv.NextActionOn.IsZero() {
		return "", ""
	}
	return queueShard(inv.CustomerID), inv.NextActionOn.String() + "#" + inv.ID
}

// queueShard picks a customer's shard with FNV-1a over its id.
func queueShard(customerID string) string {
	h := uint32(2166136261)
	for i := 0; i < len(customerID); i++ {
		h = (h ^ uint32(customerID[i])) * 16777619
	}
	return fmt.Sprintf("QUEUE#%d", h%QueueShards)
}

func invoiceGSI2(inv *billing.Invoice) (pk, sk string) {
	return kindInvoice, invoiceStateSort(inv.State, inv.DueOn.String(), inv.ID)
}
