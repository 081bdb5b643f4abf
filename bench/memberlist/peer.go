// Command memberlist-peer is the HashiCorp memberlist anchor of the SPORE benchmarks (issue 6,
// DESIGN.md §4): one memberlist node with the library's LAN profile, plus a tiny HTTP endpoint so
// bench/memberlist_vs_spore.sh can poll it the way it polls spored's REST API.
//
// Build (Debian packages only, no module download):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o build/bench/memberlist-peer ./bench/memberlist
//
// Endpoints:
//
//	GET /members  {"members":[{"name","addr","state"}]}, state alive | suspect | dead | left
//	GET /stats    traffic counted by this process: UDP packets and payload bytes, TCP streams and bytes
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/hashicorp/memberlist"
)

// counters is what the bench can read back; the harness measures traffic itself (kernel counters
// in a private network namespace), these are a cross-check from the library's side of the socket.
type counters struct {
	UDPSent, UDPSentBytes, UDPRecv, UDPRecvBytes int64
	TCPStreams, TCPSentBytes, TCPRecvBytes       int64
}

// countingTransport wraps memberlist's own NetTransport so every packet and stream byte goes
// through a counter without changing what goes on the wire. Embedding keeps FinalAdvertiseAddr,
// IngestPacket, Shutdown... and the NodeAwareTransport methods memberlist 0.2 looks for.
type countingTransport struct {
	*memberlist.NetTransport
	c        counters
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
}

func newCountingTransport(inner *memberlist.NetTransport) *countingTransport {
	t := &countingTransport{
		NetTransport: inner,
		packetCh:     make(chan *memberlist.Packet),
		streamCh:     make(chan net.Conn),
	}
	// Unbuffered like NetTransport's own channels, so the inner listener still sees the same
	// back-pressure from memberlist's packet handler.
	go func() {
		for p := range inner.PacketCh() {
			atomic.AddInt64(&t.c.UDPRecv, 1)
			atomic.AddInt64(&t.c.UDPRecvBytes, int64(len(p.Buf)))
			t.packetCh <- p
		}
	}()
	go func() {
		for conn := range inner.StreamCh() {
			atomic.AddInt64(&t.c.TCPStreams, 1)
			t.streamCh <- &countingConn{Conn: conn, c: &t.c}
		}
	}()
	return t
}

func (t *countingTransport) countSent(n int) {
	atomic.AddInt64(&t.c.UDPSent, 1)
	atomic.AddInt64(&t.c.UDPSentBytes, int64(n))
}

func (t *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	t.countSent(len(b))
	return t.NetTransport.WriteTo(b, addr)
}

func (t *countingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	t.countSent(len(b))
	return t.NetTransport.WriteToAddress(b, a)
}

func (t *countingTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }
func (t *countingTransport) StreamCh() <-chan net.Conn           { return t.streamCh }

func (t *countingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.wrapDial(t.NetTransport.DialTimeout(addr, timeout))
}

func (t *countingTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.wrapDial(t.NetTransport.DialAddressTimeout(a, timeout))
}

func (t *countingTransport) wrapDial(conn net.Conn, err error) (net.Conn, error) {
	if err != nil {
		return nil, err
	}
	atomic.AddInt64(&t.c.TCPStreams, 1)
	return &countingConn{Conn: conn, c: &t.c}, nil
}

func (t *countingTransport) snapshot() counters {
	return counters{
		UDPSent: atomic.LoadInt64(&t.c.UDPSent), UDPSentBytes: atomic.LoadInt64(&t.c.UDPSentBytes),
		UDPRecv: atomic.LoadInt64(&t.c.UDPRecv), UDPRecvBytes: atomic.LoadInt64(&t.c.UDPRecvBytes),
		TCPStreams:   atomic.LoadInt64(&t.c.TCPStreams),
		TCPSentBytes: atomic.LoadInt64(&t.c.TCPSentBytes), TCPRecvBytes: atomic.LoadInt64(&t.c.TCPRecvBytes),
	}
}

// countingConn counts the push/pull and fallback-probe streams memberlist runs over TCP.
type countingConn struct {
	net.Conn
	c *counters
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	atomic.AddInt64(&c.c.TCPRecvBytes, int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	atomic.AddInt64(&c.c.TCPSentBytes, int64(n))
	return n, err
}

type member struct {
	Name  string `json:"name"`
	Addr  string `json:"addr"`
	State string `json:"state"`
}

var stateNames = map[int64]string{
	int64(memberlist.StateAlive): "alive", int64(memberlist.StateSuspect): "suspect",
	int64(memberlist.StateDead): "dead", int64(memberlist.StateLeft): "left",
}

// nodeStates reads memberlist's private node table. The public API cannot answer the question
// the benchmark asks: Members() drops dead nodes, and in memberlist 0.2.2 the exported Node.State
// is never updated (nodeState.State shadows it), so "suspect" is invisible from outside. Reading
// the unexported fields through reflect (values only, under the library's own read lock) is the
// least invasive way; it is tied to Debian's 0.2.2, which is the version this anchor pins.
func nodeStates(m *memberlist.Memberlist) []member {
	v := reflect.ValueOf(m).Elem()
	lock := (*sync.RWMutex)(unsafe.Pointer(v.FieldByName("nodeLock").UnsafeAddr()))
	lock.RLock()
	defer lock.RUnlock()
	nodes := v.FieldByName("nodes")
	out := make([]member, 0, nodes.Len())
	for i := 0; i < nodes.Len(); i++ {
		ns := nodes.Index(i).Elem()
		node := ns.FieldByName("Node")
		addr := net.IP(node.FieldByName("Addr").Bytes()).String()
		state, ok := stateNames[ns.FieldByName("State").Int()]
		if !ok {
			state = "unknown"
		}
		out = append(out, member{
			Name:  node.FieldByName("Name").String(),
			Addr:  fmt.Sprintf("%s:%d", addr, node.FieldByName("Port").Uint()),
			State: state,
		})
	}
	return out
}

// deadMemory remembers nodes memberlist declared dead: after GossipToTheDeadTime (30 s in the
// LAN profile) it reaps them from its table, and the harness must still see "dead", not "absent".
type deadMemory struct {
	mu   sync.Mutex
	dead map[string]string // name -> addr
}

func (d *deadMemory) NotifyJoin(n *memberlist.Node) {
	d.mu.Lock()
	delete(d.dead, n.Name)
	d.mu.Unlock()
}

func (d *deadMemory) NotifyLeave(n *memberlist.Node) {
	d.mu.Lock()
	d.dead[n.Name] = n.Address()
	d.mu.Unlock()
}

func (d *deadMemory) NotifyUpdate(*memberlist.Node) {}

func main() {
	name := flag.String("name", "", "node name (unique in the cluster)")
	bind := flag.String("bind", "127.0.0.1", "IPv4 address for memberlist's UDP and TCP")
	port := flag.Int("port", 7946, "memberlist port (UDP and TCP)")
	join := flag.String("join", "", "comma-separated host:port list of peers to join")
	httpAddr := flag.String("http", "", "host:port of the status endpoint (/members, /stats)")
	flag.Parse()
	if *name == "" || *httpAddr == "" {
		fmt.Fprintln(os.Stderr, "usage: memberlist-peer -name NAME -bind IP -port PORT -http HOST:PORT [-join HOST:PORT,...]")
		os.Exit(2)
	}
	logger := log.New(os.Stderr, *name+" ", log.LstdFlags|log.Lmicroseconds)
	// memberlist 0.2.2 draws its push/pull stagger and probe order from the global math/rand,
	// which Go 1.19 does not seed: unseeded, every peer would start push/pull at the same offset
	// and probe in the same order. Applications (Consul, Serf's agent) seed it; so does the anchor.
	rand.Seed(time.Now().UnixNano())

	inner, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{*bind}, BindPort: *port, Logger: logger,
	})
	if err != nil {
		logger.Fatalf("transport: %v", err)
	}
	transport := newCountingTransport(inner)
	dead := &deadMemory{dead: map[string]string{}}

	// The LAN profile unchanged (probe every 1 s, 500 ms probe timeout, suspicion 4 x log10(N)
	// probe intervals, gossip to 3 nodes every 200 ms, push/pull every 30 s): the anchor is the
	// library as its users get it. Only identity, addresses and hooks are set.
	cfg := memberlist.DefaultLANConfig()
	cfg.Name = *name
	cfg.BindAddr = *bind
	cfg.BindPort = *port
	cfg.AdvertiseAddr = *bind
	cfg.AdvertisePort = *port
	cfg.Transport = transport
	cfg.Events = dead
	cfg.Logger = logger
	m, err := memberlist.Create(cfg)
	if err != nil {
		logger.Fatalf("memberlist: %v", err)
	}
	if *join != "" {
		// A failed join is not fatal: the first node of a cluster has nobody to join yet, and
		// the harness checks convergence itself.
		if n, err := m.Join(strings.Split(*join, ",")); err != nil {
			logger.Printf("join: reached %d of %s: %v", n, *join, err)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/members", func(w http.ResponseWriter, _ *http.Request) {
		list := nodeStates(m)
		seen := map[string]bool{}
		for _, e := range list {
			seen[e.Name] = true
		}
		dead.mu.Lock()
		for n, addr := range dead.dead {
			if !seen[n] {
				list = append(list, member{Name: n, Addr: addr, State: "dead"})
			}
		}
		dead.mu.Unlock()
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
		writeJSON(w, map[string]interface{}{"members": list})
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, transport.snapshot())
	})
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		logger.Fatalf("http: %v", err)
	}
	go func() { _ = http.Serve(ln, mux) }()
	logger.Printf("memberlist on %s:%d (LAN profile), status on http://%s/members", *bind, *port, *httpAddr)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	// Graceful leave on TERM, as spored does; the benchmark's crash is SIGKILL, which skips this.
	_ = m.Leave(time.Second)
	_ = m.Shutdown()
	c := transport.snapshot()
	logger.Printf("sent %d UDP packets (%d B), received %d (%d B), %d TCP streams (%d B sent, %d B received)",
		c.UDPSent, c.UDPSentBytes, c.UDPRecv, c.UDPRecvBytes, c.TCPStreams, c.TCPSentBytes, c.TCPRecvBytes)
}

func writeJSON(w http.ResponseWriter, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, string(b)+"\n")
}
