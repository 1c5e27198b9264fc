package suite

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/residue-go/residue"
	"github.com/residue-go/residue/internal/combined"
	"github.com/residue-go/residue/internal/probes"
)

// specFigures is the report entry "residue" that CheckEverySpec attaches
// to each spec: the counts of every probe that ran, for --json-report and
// --junit-report, and shown on one line with a failure or under -v.
type specFigures struct {
	SideEffectsFound bool
	Counts           []probes.Count
}

// String shows the figures on one line:
// "goroutines 0 · descriptors 0 · globals changed 0".
func (f specFigures) String() string {
	parts := make([]string, len(f.Counts))
	for i, c := range f.Counts {
		parts[i] = fmt.Sprintf("%s %d", c.Name, c.Value)
	}
	return strings.Join(parts, " · ")
}

// specRun is the session of the spec being run by this process, or of the
// BeforeAll and AfterAll nodes of an Ordered container.
type specRun struct {
	key     string
	where   types.CodeLocation // the It, or the Ordered container
	session *combined.Session
}

var (
	specMu    sync.Mutex
	specCur   *specRun
	ordered   = map[string]*specRun{} // by container location
	allNodes  = types.NodeTypeBeforeAll | types.NodeTypeAfterAll | types.NodeTypeCleanupAfterAll
	eachNodes = types.NodeTypesForContainerAndIt | types.NodeTypeBeforeEach | types.NodeTypeJustBeforeEach |
		types.NodeTypeAfterEach | types.NodeTypeJustAfterEach | types.NodeTypeCleanupAfterEach
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
// AfterEach is no leak. The BeforeAll and AfterAll nodes of an Ordered
// container are judged together as the container's own unit (goroutines
// and descriptors; global state is judged by its specs), and a failure
// names the container. Specs running in other ginkgo -p processes, or in
// parallel goroutines, are never blamed. The figures of every spec (the
// counts of every probe) are attached to its report as the entry "residue",
// so they land in --json-report and --junit-report.
//
// Given to a container instead, it checks the specs inside it only, as
// Ginkgo applies an AroundNode decorator to every node below the container
// it decorates:
//
//	Describe("payments", CheckEverySpec(), func() { … })
//
// Those specs' nodes outside the container (an outer BeforeEach and
// AfterEach) are not wrapped: a server they start and close is no leak, and
// a spec is judged from its first node inside the container.
func CheckEverySpec(opts ...residue.Option) types.AroundNodeDecorator {
	return ginkgo.AroundNode(func(ctx context.Context, body func(context.Context)) {
		report := ginkgo.CurrentSpecReport()
		node := currentNode(report)
		var cur *specRun
		switch {
		case report.LeafNodeType != types.NodeTypeIt || isFinishNode(node, report):
		case node.NodeType.Is(allNodes):
			cur = containerRun(report, node, opts)
		case node.NodeType.Is(eachNodes):
			cur = spec(report, opts)
		}
		if cur == nil {
			body(ctx)
			return
		}
		cur.session.Enter(func() { body(ctx) })
	})
}

// spec returns the session of the spec being run, starting it on its first
// node.
func spec(report types.SpecReport, opts []residue.Option) *specRun {
	key := report.LeafNodeLocation.String() + report.StartTime.String()
	specMu.Lock()
	defer specMu.Unlock()
	if specCur != nil && specCur.key == key {
		return specCur
	}
	s, err := combined.Start(opts...)
	if err != nil {
		ginkgo.Fail("CheckEverySpec: " + err.Error())
	}
	specCur = &specRun{key: key, where: report.LeafNodeLocation, session: s}
	// Registered by the spec's first node, this cleanup runs after every
	// other one: the end of the spec. It is located at the spec's It, so
	// that a failure names the user's spec.
	ginkgo.DeferCleanup(report.LeafNodeLocation, finishSpec, specCur)
	return specCur
}

// containerRun returns the session of the BeforeAll and AfterAll nodes of
// the Ordered container being run, judged as the container's own unit,
// starting it at the first BeforeAll. Global state is left to the specs'
// sessions, which run inside the container's and would see every change
// twice.
func containerRun(report types.SpecReport, node types.SpecEvent, opts []residue.Option) *specRun {
	locs := report.ContainerHierarchyLocations
	if len(locs) == 0 {
		return nil
	}
	where := locs[len(locs)-1]
	key := where.String()
	specMu.Lock()
	defer specMu.Unlock()
	if c := ordered[key]; c != nil {
		return c
	}
	if !node.NodeType.Is(types.NodeTypeBeforeAll) {
		return nil
	}
	s, err := combined.Start(combined.LeavingOutGlobals(opts)...)
	if err != nil {
		ginkgo.Fail("CheckEverySpec: " + err.Error())
	}
	c := &specRun{key: key, where: where, session: s}
	ordered[key] = c
	// Registered in a BeforeAll, this cleanup runs after the container's
	// AfterAll nodes.
	ginkgo.DeferCleanup(where, finishContainer, c)
	return c
}

// isFinishNode reports whether node is the cleanup that finishes the
// spec's session: a DeferCleanup located at the spec's It, as CheckEverySpec
// registers it.
func isFinishNode(node types.SpecEvent, report types.SpecReport) bool {
	at := func(l types.CodeLocation) bool {
		return node.CodeLocation.FileName == l.FileName && node.CodeLocation.LineNumber == l.LineNumber
	}
	if node.NodeType.Is(types.NodeTypeCleanupAfterEach) {
		return at(report.LeafNodeLocation)
	}
	if locs := report.ContainerHierarchyLocations; node.NodeType.Is(types.NodeTypeCleanupAfterAll) && len(locs) > 0 {
		return at(locs[len(locs)-1])
	}
	return false
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
	spec := ginkgo.CurrentSpecReport()
	finish(cur, fmt.Sprintf("the spec %q (%s)", spec.FullText(), cur.where), "The spec")
}

func finishContainer(cur *specRun) {
	specMu.Lock()
	delete(ordered, cur.key)
	specMu.Unlock()
	finish(cur, fmt.Sprintf("the BeforeAll and AfterAll nodes of the Ordered container at %s", cur.where), "They")
}

// finish ends a session, attaches its figures to the spec's report and
// fails the spec when something was left.
func finish(cur *specRun, what, subject string) {
	report, err := cur.session.Finish()
	ginkgo.AddReportEntry("residue", specFigures{SideEffectsFound: report.Found(), Counts: report.Counts()},
		ginkgo.ReportEntryVisibilityFailureOrVerbose, cur.where)
	switch {
	case err != nil:
		ginkgo.Fail("CheckEverySpec: " + err.Error())
	case report.Found():
		ginkgo.Fail(fmt.Sprintf("CheckEverySpec: %s left side effects.\n%s", what, report.Describe(subject)))
	}
}
