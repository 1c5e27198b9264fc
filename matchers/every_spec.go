package matchers

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/residue-go/residue"
	"github.com/residue-go/residue/probes"
)

// CheckEverySpec returns a decorator for RunSpecs that fails every spec that
// leaves side effects — goroutines still running, file descriptors or
// sockets still open, globals changed — with a message naming the spec and
// what it left. It is the suite-wide form of HaveSideEffects:
//
//	func TestApp(t *testing.T) {
//		RegisterFailHandler(Fail)
//		RunSpecs(t, "App", CheckEverySpec())
//	}
//
// A spec is judged as a whole, from its first BeforeEach to its last
// DeferCleanup, so a server started in a BeforeEach and closed in an
// AfterEach is no leak. BeforeAll and AfterAll nodes of Ordered containers
// are not part of any one spec and are not watched. Specs running in other
// ginkgo -p processes, or in parallel goroutines, are never blamed. The
// figures of every spec (goroutines, descriptors, changed variables,
// allocations) are attached to its report as the entry "residue", so they
// land in --json-report and --junit-report.
func CheckEverySpec(opts ...residue.Option) types.AroundNodeDecorator {
	return checkSpecs(func(types.SpecReport) bool { return true }, opts)
}

// CheckSpecsLabelled is CheckEverySpec for the specs carrying the Ginkgo
// label only: RunSpecs(t, "App", CheckSpecsLabelled("no-residue-left")).
func CheckSpecsLabelled(label string, opts ...residue.Option) types.AroundNodeDecorator {
	return checkSpecs(func(r types.SpecReport) bool { return slices.Contains(r.Labels(), label) }, opts)
}

// SpecFigures is the report entry "residue" that CheckEverySpec attaches
// to each spec: the counts of every probe that ran, for --json-report and
// --junit-report, and shown on one line with a failure or under -v.
type SpecFigures struct {
	SideEffectsFound bool
	Counts           []probes.Count
}

// String shows the figures on one line:
// "goroutines 0 · descriptors 0 · globals changed 0".
func (f SpecFigures) String() string {
	parts := make([]string, len(f.Counts))
	for i, c := range f.Counts {
		parts[i] = fmt.Sprintf("%s %d", c.Name, c.Value)
	}
	return strings.Join(parts, " · ")
}

// specRun is the session of the spec being run by this process.
type specRun struct {
	key     string
	session *residue.Session
}

var (
	specMu   sync.Mutex
	specCur  *specRun
	selfFile = func() string { _, f, _, _ := runtime.Caller(0); return f }()
)

func checkSpecs(wanted func(types.SpecReport) bool, opts []residue.Option) types.AroundNodeDecorator {
	return ginkgo.AroundNode(func(ctx context.Context, body func(context.Context)) {
		report := ginkgo.CurrentSpecReport()
		node := currentNode(report)
		if report.LeafNodeType != types.NodeTypeIt || !wanted(report) ||
			node.NodeType.Is(types.NodeTypeBeforeAll|types.NodeTypeAfterAll|types.NodeTypeCleanupAfterAll) ||
			node.CodeLocation.FileName == selfFile {
			body(ctx)
			return
		}
		key := report.LeafNodeLocation.String() + report.StartTime.String()
		specMu.Lock()
		cur := specCur
		if cur == nil || cur.key != key {
			s, err := residue.Start(opts...)
			if err != nil {
				specMu.Unlock()
				ginkgo.Fail("CheckEverySpec: " + err.Error())
				return
			}
			cur = &specRun{key: key, session: s}
			specCur = cur
			// Registered by the spec's first node, this cleanup runs after
			// every other one: the end of the spec.
			ginkgo.DeferCleanup(finishSpec, cur)
		}
		specMu.Unlock()
		cur.session.Enter(func() { body(ctx) })
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

func finishSpec(cur *specRun) {
	specMu.Lock()
	if specCur == cur {
		specCur = nil
	}
	specMu.Unlock()
	report, err := cur.session.Finish()
	ginkgo.AddReportEntry("residue", SpecFigures{SideEffectsFound: report.Found(), Counts: report.Counts()}, ginkgo.ReportEntryVisibilityFailureOrVerbose)
	switch {
	case err != nil:
		ginkgo.Fail("CheckEverySpec: " + err.Error())
	case report.Found():
		ginkgo.Fail("CheckEverySpec: the spec \"" + ginkgo.CurrentSpecReport().FullText() + "\" left side effects.\n" + report.Describe("It"))
	}
}
