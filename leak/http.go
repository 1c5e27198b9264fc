package leak

import (
	"github.com/residue-go/residue/internal/stack"
)

// HTTPConn says what a goroutine is to a connection of an http.Transport.
type HTTPConn uint8

const (
	// NotHTTPConn is any goroutine that is not a connection's reader or
	// writer.
	NotHTTPConn HTTPConn = iota
	// IdleHTTPConn is the reader or writer of a keep-alive connection idle
	// in the transport's pool: every response on it was read and closed.
	IdleHTTPConn
	// BusyHTTPConn is the reader or writer of a connection that is not idle:
	// most often, a response whose body was never closed holds it.
	BusyHTTPConn
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
type httpConns map[uint64]HTTPConn // by the ID of the goroutine that dialed

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
		if stack.HasFunc(g.Frames, connIdleRead) && out[g.CreatorID] != BusyHTTPConn {
			out[g.CreatorID] = IdleHTTPConn
		} else {
			out[g.CreatorID] = BusyHTTPConn
		}
	}
	return out
}

// of returns what g is to a transport's connection.
func (c httpConns) of(g *stack.Goroutine) HTTPConn {
	if g.CreatedBy.Func != connDialer {
		return NotHTTPConn
	}
	if reader, writer := connRole(g); !reader && !writer {
		return NotHTTPConn
	}
	if st, ok := c[g.CreatorID]; ok {
		return st
	}
	// A writer whose reader has gone: the connection is closing.
	return BusyHTTPConn
}

func connRole(g *stack.Goroutine) (reader, writer bool) {
	return stack.HasFunc(g.Frames, connReader), stack.HasFunc(g.Frames, connWriter)
}
