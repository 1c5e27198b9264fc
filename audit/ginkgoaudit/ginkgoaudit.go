// Package ginkgoaudit is the hook `residue test` adds to every RunSpecs call
// of the module it audits: each spec is audited on its own, as package
// audit does for a test.
package ginkgoaudit

import (
	"context"
	"runtime"
	"sync"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/residue-go/residue/audit/internal/unit"
)

var selfFile = func() string { _, f, _, _ := runtime.Caller(0); return f }()

// EverySpec returns a RunSpecs decorator that audits each spec, from its
// first BeforeEach to its last DeferCleanup, and appends a record named by
// the spec's full text. BeforeAll and AfterAll nodes belong to no one spec
// and are not audited. Within a process specs run one at a time, so under
// ginkgo -p each process audits its own.
func EverySpec() types.AroundNodeDecorator {
	suite := unit.CallerFunc(1)
	var (
		mu  sync.Mutex
		key string
		cur *unit.Unit
	)
	return ginkgo.AroundNode(func(ctx context.Context, body func(context.Context)) {
		report := ginkgo.CurrentSpecReport()
		node := currentNode(report)
		if report.LeafNodeType != types.NodeTypeIt ||
			node.NodeType.Is(types.NodeTypeBeforeAll|types.NodeTypeAfterAll|types.NodeTypeCleanupAfterAll) ||
			node.CodeLocation.FileName == selfFile {
			body(ctx)
			return
		}
		k := report.LeafNodeLocation.String() + report.StartTime.String()
		mu.Lock()
		if key != k {
			key, cur = k, unit.Begin(suite, report.FullText(), true)
			if cur != nil {
				// Registered by the spec's first node, this cleanup runs
				// after every other one: the end of the spec.
				ginkgo.DeferCleanup(func(u *unit.Unit) {
					// The spec's nodes after this one (the cleanup with
					// which suite.CheckEverySpec ends its own check, when
					// the suite has it too) run outside the ended unit.
					mu.Lock()
					if cur == u {
						cur = nil
					}
					mu.Unlock()
					r := ginkgo.CurrentSpecReport()
					u.End(r.Failed(), r.State.Is(types.SpecStateSkipped))
				}, cur)
			}
		}
		u := cur
		mu.Unlock()
		if u == nil {
			body(ctx)
			return
		}
		u.Enter(func() { body(ctx) })
	})
}

// currentNode returns the start event of the node being run.
func currentNode(r types.SpecReport) types.SpecEvent {
	for i := len(r.SpecEvents) - 1; i >= 0; i-- {
		if r.SpecEvents[i].SpecEventType == types.SpecEventNodeStart {
			return r.SpecEvents[i]
		}
	}
	return types.SpecEvent{}
}
