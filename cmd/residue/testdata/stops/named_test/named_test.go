// Package named_test is a package whose import path ends in _test, as
// integration_test directories do: not the external test package of
// another.
package named_test

import "testing"

func TestInNamedTest(t *testing.T) {}
