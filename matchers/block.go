package matchers

import (
	"fmt"
	"reflect"
)

// asBlock returns actual as a func(), or an error that names what actual is.
// matcher is the name used in the error, such as "LeakGoroutines".
func asBlock(matcher string, actual any) (func(), error) {
	switch f := actual.(type) {
	case func():
		if f == nil {
			return nil, fmt.Errorf("%s expects a block of type func(), got a nil func()", matcher)
		}
		return f, nil
	case nil:
		return nil, fmt.Errorf("%s expects a block of type func(), got nil", matcher)
	}
	t := reflect.TypeOf(actual)
	if t.Kind() == reflect.Func {
		return nil, fmt.Errorf("%s expects a block of type func(), got a %s: wrap it, e.g. func() { f(…) }", matcher, t)
	}
	return nil, fmt.Errorf("%s expects a block of type func(), got %s %#v", matcher, t, actual)
}
