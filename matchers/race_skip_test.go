//go:build race

package matchers_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2"
	gtypes "github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"

	"github.com/residue-go/residue/internal/env"
	. "github.com/residue-go/residue/matchers"
)

// childEnv marks the test binary run by
// TestAllocationSpecsUnderRaceAreSkippedWhenAskedTo as the Ginkgo suite.
const childEnv = "RESIDUE_TEST_RACE_SKIP_SUITE"

// Under -race, with RESIDUE_SKIP_ALLOC_UNDER_RACE=1, specs that check
// allocations are skipped, each with the reason and the line of its
// assertion; without it they fail with ErrRace. Never a silent pass.
func TestAllocationSpecsUnderRaceAreSkippedWhenAskedTo(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		raceSkipSuite(t)
		return
	}
	run := func(skip string) string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAllocationSpecsUnderRaceAreSkippedWhenAskedTo$", "-test.v")
		cmd.Env = append(os.Environ(), childEnv+"=1", env.SkipAllocUnderRace+"="+skip)
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	skipped := run("1")
	for _, spec := range []string{"Allocate", "StayWithinBudget"} {
		want := fmt.Sprintf("SPEC %s skipped at race_skip_test.go:", spec)
		if !strings.Contains(skipped, want) {
			t.Errorf("with %s=1, want %q in:\n%s", env.SkipAllocUnderRace, want, skipped)
		}
	}
	for _, want := range []string{
		"AllocateAtMost(3): allocation figures are not exact under the race detector",
		`StayWithinBudget("parse"): allocation figures are not exact under the race detector`,
		"(skipped: " + env.SkipAllocUnderRace + "=1)",
	} {
		if !strings.Contains(skipped, want) {
			t.Errorf("the skip lacks %q:\n%s", want, skipped)
		}
	}
	failed := run("")
	for _, spec := range []string{"Allocate", "StayWithinBudget"} {
		want := fmt.Sprintf("SPEC %s failed at race_skip_test.go:", spec)
		if !strings.Contains(failed, want) || !strings.Contains(failed, "alloc.SkipUnderRace(t) in a plain test") {
			t.Errorf("without %s, want %q and the hint in:\n%s", env.SkipAllocUnderRace, want, failed)
		}
	}
}

// raceSkipSuite runs two specs that check allocations and prints how each
// ended, where its failure or skip was, and why.
func raceSkipSuite(t *testing.T) {
	ginkgo.It("Allocate", func() {
		gomega.Expect(func() { allocSink = make([]byte, 8) }).To(AllocateAtMost(3))
	})
	ginkgo.It("StayWithinBudget", func() {
		gomega.Expect(func() { allocSink = make([]byte, 8) }).To(StayWithinBudget("parse"))
	})
	ginkgo.ReportAfterSuite("states", func(r ginkgo.Report) {
		for _, s := range r.SpecReports {
			if s.LeafNodeType == gtypes.NodeTypeIt {
				fmt.Printf("SPEC %s %s at %s:%d: %s\n", s.LeafNodeText, s.State,
					fileBase(s.Failure.Location.FileName), s.Failure.Location.LineNumber, s.Failure.Message)
			}
		}
	})
	gomega.RegisterFailHandler(ginkgo.Fail)
	ginkgo.RunSpecs(t, "allocation checks under -race")
}

func fileBase(path string) string { return path[strings.LastIndexByte(path, '/')+1:] }
