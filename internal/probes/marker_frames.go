// The marker frames of markers.go: each is a distinct function, so its name in
// a recorded stack says which run the stack belongs to.

package probes

//go:noinline
func callBlock00(block func()) { block(); keepFrame() }

//go:noinline
func callBlock01(block func()) { block(); keepFrame() }

//go:noinline
func callBlock02(block func()) { block(); keepFrame() }

//go:noinline
func callBlock03(block func()) { block(); keepFrame() }

//go:noinline
func callBlock04(block func()) { block(); keepFrame() }

//go:noinline
func callBlock05(block func()) { block(); keepFrame() }

//go:noinline
func callBlock06(block func()) { block(); keepFrame() }

//go:noinline
func callBlock07(block func()) { block(); keepFrame() }

//go:noinline
func callBlock08(block func()) { block(); keepFrame() }

//go:noinline
func callBlock09(block func()) { block(); keepFrame() }

//go:noinline
func callBlock10(block func()) { block(); keepFrame() }

//go:noinline
func callBlock11(block func()) { block(); keepFrame() }

//go:noinline
func callBlock12(block func()) { block(); keepFrame() }

//go:noinline
func callBlock13(block func()) { block(); keepFrame() }

//go:noinline
func callBlock14(block func()) { block(); keepFrame() }

//go:noinline
func callBlock15(block func()) { block(); keepFrame() }

var exclusiveMarkers = [...]func(func()){
	callBlock00,
	callBlock01,
	callBlock02,
	callBlock03,
	callBlock04,
	callBlock05,
	callBlock06,
	callBlock07,
	callBlock08,
	callBlock09,
	callBlock10,
	callBlock11,
	callBlock12,
	callBlock13,
	callBlock14,
	callBlock15,
}
