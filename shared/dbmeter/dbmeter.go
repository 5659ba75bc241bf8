// Package dbmeter counts what a DynamoDB client does: calls per operation
// and the capacity DynamoDB reports as consumed. Benchmarks and tests use it
// to measure work in units that do not depend on how busy the machine is.
package dbmeter

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Meter accumulates counts. The zero value is ready; it is safe for
// concurrent use.
type Meter struct {
	mu         sync.Mutex
	calls      map[string]int
	readUnits  float64
	writeUnits float64
}

// Counts is a snapshot.
type Counts struct {
	Calls      map[string]int // by operation, e.g. "Query"
	ReadUnits  float64
	WriteUnits float64
}

// Total is the number of calls of every operation.
func (c Counts) Total() int {
	n := 0
	for _, v := range c.Calls {
		n += v
	}
	return n
}

// Snapshot returns the counts so far.
func (m *Meter) Snapshot() Counts {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := Counts{Calls: map[string]int{}, ReadUnits: m.readUnits, WriteUnits: m.writeUnits}
	for k, v := range m.calls {
		c.Calls[k] = v
	}
	return c
}

// Reset clears the counts.
func (m *Meter) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls, m.readUnits, m.writeUnits = nil, 0, 0
}

// Option installs the meter on a DynamoDB client:
// dynamodb.NewFromConfig(cfg, meter.Option()).
func (m *Meter) Option() func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("dbmeter", m.handle), middleware.After)
		})
	}
}

func (m *Meter) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	askForCapacity(in.Parameters)
	out, md, err := next.HandleInitialize(ctx, in)
	name := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%T", in.Parameters), "*dynamodb."), "Input")
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.calls == nil {
		m.calls = map[string]int{}
	}
	m.calls[name]++
	if err == nil {
		for _, c := range consumed(out.Result) {
			if c.ReadCapacityUnits != nil {
				m.readUnits += *c.ReadCapacityUnits
			}
			if c.WriteCapacityUnits != nil {
				m.writeUnits += *c.WriteCapacityUnits
			}
			if c.ReadCapacityUnits == nil && c.WriteCapacityUnits == nil && c.CapacityUnits != nil {
				if strings.HasPrefix(name, "Get") || name == "Query" || name == "Scan" || name == "BatchGetItem" {
					m.readUnits += *c.CapacityUnits
				} else {
					m.writeUnits += *c.CapacityUnits
				}
			}
		}
	}
	return out, md, err
}

func askForCapacity(p any) {
	t := types.ReturnConsumedCapacityTotal
	switch in := p.(type) {
	case *dynamodb.GetItemInput:
		in.ReturnConsumedCapacity = t
	case *dynamodb.QueryInput:
		in.ReturnConsumedCapacity = t
	case *dynamodb.ScanInput:
		in.ReturnConsumedCapacity = t
	case *dynamodb.PutItemInput:
		in.ReturnConsumedCapacity = t
	case *dynamodb.UpdateItemInput:
		in.ReturnConsumedCapacity = t
	case *dynamodb.DeleteItemInput:
		in.ReturnConsumedCapacity = t
	case *dynamodb.TransactWriteItemsInput:
		in.ReturnConsumedCapacity = t
	case *dynamodb.BatchGetItemInput:
		in.ReturnConsumedCapacity = t
	}
}

func consumed(r any) []types.ConsumedCapacity {
	one := func(c *types.ConsumedCapacity) []types.ConsumedCapacity {
		if c == nil {
			return nil
		}
		return []types.ConsumedCapacity{*c}
	}
	switch out := r.(type) {
	case *dynamodb.GetItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.QueryOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.ScanOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.PutItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.UpdateItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.DeleteItemOutput:
		return one(out.ConsumedCapacity)
	case *dynamodb.TransactWriteItemsOutput:
		return out.ConsumedCapacity
	case *dynamodb.BatchGetItemOutput:
		return out.ConsumedCapacity
	}
	return nil
}
