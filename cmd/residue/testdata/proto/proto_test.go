// Package proto uses a protobuf message type for the first time in a
// test: the runtime builds its descriptor then, which is not the test's
// doing.
package proto

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestMarshalsADuration(t *testing.T) {
	b, err := proto.Marshal(durationpb.New(1500 * time.Millisecond))
	if err != nil || len(b) == 0 {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
}

// TestBuildsAFileDescriptor builds a descriptor from its proto form, as a
// gRPC reflection service does: protodesc computes the feature defaults of
// the file's edition then, once per edition, into a cache.
func TestBuildsAFileDescriptor(t *testing.T) {
	fd, err := protodesc.NewFile(protodesc.ToFileDescriptorProto(durationpb.File_google_protobuf_duration_proto), nil)
	if err != nil || fd.Messages().Len() != 1 {
		t.Fatalf("%v, %v", fd, err)
	}
}
