package leak

import (
	"github.com/residue-go/residue/internal/stack"
)

// What a goroutine is to a connection of an http.Transport (Goroutine.HTTP).
const (
	// notHTTPConn is any goroutine that is not a connection's reader or
	// writer.
	notHTTPConn = ""
	// idleHTTPConn is the reader or writer of a keep-alive connection idle
	// in the transport's pool: every response on it was read and closed.
	idleHTTPConn = "idle"
	// busyHTTPConn is the reader or writer of a connection that is not idle:
	// most often, a response whose body was never closed holds it.
	busyHTTPConn = "busy"
)

const (
	connReader = "net/http.(*persistConn).readLoop"
	connWriter = "net/http.(*persistConn).writeLoop"
	connDialer = "net/http.(*Transport).dialConn"
	// connIdleRead is where an idle connection's reader waits: for the
	// first byte of a next response, before any request is sent. A reader
	// whose response body is still open waits in a select instead.
	connIdleRead = "bufio.(*Reader).Peek"
)

// httpConns tells, per goroutine that dialConn started, whether its
// connection is idle. A connection's reader and writer are started by one
// dialConn call, so they share their creator: the writer of a connection is
// idle when the reader started by the same goroutine is.
type httpConns map[uint64]string // by the ID of the goroutine that dialed

func (s *snapshot) httpConns() httpConns {
	var out httpConns
	for i := range s.all {
		g := &s.all[i]
		if g.CreatedBy.Func != connDialer || g.TopFunction() == "" {
			continue
		}
		if reader, _ := connRole(g); !reader {
			continue
		}
		if out == nil {
			out = httpConns{}
		}
		if stack.HasFunc(g.Frames, connIdleRead) && out[g.CreatorID] != busyHTTPConn {
			out[g.CreatorID] = idleHTTPConn
		} else {
			out[g.CreatorID] = busyHTTPConn
		}
	}
	return out
}

// of returns what g is to a transport's connection.
func (c httpConns) of(g *stack.Goroutine) string {
	if g.CreatedBy.Func != connDialer {
		return notHTTPConn
	}
	if reader, writer := connRole(g); !reader && !writer {
		return notHTTPConn
	}
	if st, ok := c[g.CreatorID]; ok {
		return st
	}
	// A writer whose reader has gone: the connection is closing.
	return busyHTTPConn
}

func connRole(g *stack.Goroutine) (reader, writer bool) {
	return stack.HasFunc(g.Frames, connReader), stack.HasFunc(g.Frames, connWriter)
}
