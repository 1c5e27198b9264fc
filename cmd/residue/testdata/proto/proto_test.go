// Package proto uses a protobuf message type for the first time in a
// test: the runtime builds its descriptor then, which is not the test's
// doing.
package proto

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestMarshalsADuration(t *testing.T) {
	b, err := proto.Marshal(durationpb.New(1500 * time.Millisecond))
	if err != nil || len(b) == 0 {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
}
