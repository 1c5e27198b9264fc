package matchers

import (
	"fmt"

	"github.com/residue-go/residue/probes"
)

// runBlock checks that actual is a block and runs it once under the probes.
// A panic or Goexit in the block comes back as an error naming the matcher.
func runBlock(matcher string, actual any, ps ...probes.Probe) error {
	block, err := probes.Block(matcher, actual)
	if err != nil {
		return err
	}
	if _, err := probes.Exec(block, ps...); err != nil {
		return fmt.Errorf("%s: %w", matcher, err)
	}
	return nil
}
