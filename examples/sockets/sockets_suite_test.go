package sockets_test

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestSockets(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Socket leak examples")
}

// redisAddr is the address of the Redis server the suite starts.
var redisAddr string

var _ = BeforeSuite(func() {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Fail("these examples need a real Redis server: redis-server is not on PATH " +
			"(Debian/Ubuntu: apt-get install -y redis-server; .ci/run installs it)")
	}
	port := freePort()
	redisAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no")
	cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
	Expect(cmd.Start()).To(Succeed(), "starting %s", bin)
	DeferCleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	Eventually(ping).WithTimeout(10*time.Second).WithPolling(20*time.Millisecond).
		Should(Succeed(), "redis-server on %s did not answer PING", redisAddr)
})

// freePort returns a loopback TCP port nothing listens on.
func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ping speaks RESP to the server directly, so the check opens nothing that
// lasts.
func ping() error {
	c, err := net.DialTimeout("tcp", redisAddr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}
