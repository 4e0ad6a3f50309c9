// varlink-peer: a conformance test of reclaimd's control socket by an
// independent implementation, the varlink project's own Go package
// (Debian's golang-github-varlink-go-dev), built offline:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o varlink-peer main.go
//
// Its IDL parser (varlink/idl) must accept both interface descriptions.
// Then every method of io.reclaim and org.varlink.service is called with
// valid parameters, every declared error that a client can provoke is
// provoked, a oneway call, pipelined calls and a call with "more" are made,
// and each reply is checked against the types the IDL declares: every key
// present is declared, every value has its declared type, every field that
// is not ?nullable is present. The replies are decoded here, from the raw
// JSON: the package's client drops decoding errors (and unknown keys), so
// it could not see a reply that breaks the IDL.
//
// Usage: varlink-peer -socket PATH [-config PATH] [-pid N] [-unprivileged]
// (see tests/integration/test_varlink_peer.py). Prints what it checked;
// exit status 0 when everything conforms, 1 with each mismatch on stderr.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"net"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/varlink/go/varlink/idl"
)

var (
	socketPath   = flag.String("socket", "", "reclaimd's control socket")
	configPath   = flag.String("config", "", "its configuration file: Reload is refused a broken one (ConfigError), then it is restored")
	daemonPid    = flag.Int("pid", 0, "its pid: SIGTERM last, for ShuttingDown")
	slowTask     = flag.String("slow-task", "", "an on-demand task taking ms=N that waits (TooManyTasks, ShuttingDown)")
	failTask     = flag.String("fail-task", "", "an on-demand task that fails (TaskFailed)")
	unprivileged = flag.Bool("unprivileged", false, "run as a peer that may not change state: PermissionDenied only")
)

var failures []string
var checked int

func failf(format string, a ...interface{}) {
	msg := fmt.Sprintf(format, a...)
	failures = append(failures, msg)
	fmt.Fprintln(os.Stderr, "MISMATCH:", msg)
}

func fatalf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "varlink-peer: "+format+"\n", a...)
	os.Exit(2)
}

// A connection: NUL-terminated JSON messages.
type conn struct {
	c net.Conn
	r *bufio.Reader
}

func dial() *conn {
	c, err := net.Dial("unix", *socketPath)
	if err != nil {
		fatalf("connect %s: %v", *socketPath, err)
	}
	return &conn{c: c, r: bufio.NewReader(c)}
}

func encodeCall(method string, params interface{}, flags ...string) []byte {
	m := map[string]interface{}{"method": method}
	if params != nil {
		m["parameters"] = params
	}
	for _, f := range flags {
		m[f] = true
	}
	b, err := json.Marshal(m)
	if err != nil {
		fatalf("encode: %v", err)
	}
	return append(b, 0)
}

func (c *conn) write(b []byte) {
	if _, err := c.c.Write(b); err != nil {
		fatalf("write: %v", err)
	}
}

func (c *conn) send(method string, params interface{}, flags ...string) {
	c.write(encodeCall(method, params, flags...))
}

// A reply: its top-level keys, decoded with json.Number for numbers.
type reply struct {
	raw       string
	errName   string
	params    map[string]interface{}
	continues bool
}

// recv reads one message; the top level may hold only parameters, error
// and continues (the varlink specification's reply).
func (c *conn) recv(what string) *reply {
	c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := c.r.ReadBytes(0)
	if err != nil {
		fatalf("%s: reading the reply: %v", what, err)
	}
	b = b[:len(b)-1]
	var top map[string]interface{}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&top); err != nil {
		failf("%s: the reply is not a JSON object: %v: %s", what, err, b)
		return &reply{raw: string(b)}
	}
	r := &reply{raw: string(b), params: map[string]interface{}{}}
	for k, v := range top {
		switch k {
		case "parameters":
			p, ok := v.(map[string]interface{})
			if !ok {
				failf("%s: parameters is not an object: %s", what, b)
			} else {
				r.params = p
			}
		case "error":
			s, ok := v.(string)
			if !ok {
				failf("%s: error is not a string: %s", what, b)
			}
			r.errName = s
		case "continues":
			t, ok := v.(bool)
			if !ok {
				failf("%s: continues is not a boolean: %s", what, b)
			}
			r.continues = t
		default:
			failf("%s: the reply has a key %q the specification has not: %s", what, k, b)
		}
	}
	return r
}

func (c *conn) call(method string, params interface{}, flags ...string) *reply {
	c.send(method, params, flags...)
	return c.recv(method)
}

// The interfaces, parsed by the package's IDL parser.
var ifaces = map[string]*idl.IDL{}

func lookupMethod(full string) (*idl.IDL, *idl.Method) {
	dot := strings.LastIndex(full, ".")
	iface := ifaces[full[:dot]]
	if iface == nil {
		return nil, nil
	}
	for _, m := range iface.Methods {
		if m.Name == full[dot+1:] {
			return iface, m
		}
	}
	return iface, nil
}

func lookupError(full string) (*idl.IDL, *idl.Error) {
	dot := strings.LastIndex(full, ".")
	iface := ifaces[full[:dot]]
	if iface == nil {
		return nil, nil
	}
	for _, e := range iface.Errors {
		if e.Name == full[dot+1:] {
			return iface, e
		}
	}
	return iface, nil
}

// checkValue: v (decoded with UseNumber) against t, in iface's aliases.
func checkValue(where string, v interface{}, t *idl.Type, iface *idl.IDL) {
	if t.Kind == idl.TypeMaybe {
		if v == nil {
			return
		}
		checkValue(where, v, t.ElementType, iface)
		return
	}
	if v == nil {
		failf("%s: null, but its type is not ?nullable", where)
		return
	}
	switch t.Kind {
	case idl.TypeBool:
		if _, ok := v.(bool); !ok {
			failf("%s: %v is not a bool", where, v)
		}
	case idl.TypeInt:
		n, ok := v.(json.Number)
		if !ok {
			failf("%s: %v is not an int", where, v)
		} else if _, err := n.Int64(); err != nil {
			failf("%s: %v is not an int (%v)", where, v, err)
		}
	case idl.TypeFloat:
		if _, ok := v.(json.Number); !ok {
			failf("%s: %v is not a float", where, v)
		}
	case idl.TypeString:
		if _, ok := v.(string); !ok {
			failf("%s: %v is not a string", where, v)
		}
	case idl.TypeObject:
		if _, ok := v.(map[string]interface{}); !ok {
			failf("%s: %v is not an object", where, v)
		}
	case idl.TypeArray:
		a, ok := v.([]interface{})
		if !ok {
			failf("%s: %v is not an array", where, v)
			return
		}
		for i, e := range a {
			checkValue(fmt.Sprintf("%s[%d]", where, i), e, t.ElementType, iface)
		}
	case idl.TypeMap:
		m, ok := v.(map[string]interface{})
		if !ok {
			failf("%s: %v is not a map", where, v)
			return
		}
		for k, e := range m {
			checkValue(where+"["+k+"]", e, t.ElementType, iface)
		}
	case idl.TypeStruct:
		m, ok := v.(map[string]interface{})
		if !ok {
			failf("%s: %v is not an object", where, v)
			return
		}
		checkFields(where, m, t, iface)
	case idl.TypeEnum:
		s, ok := v.(string)
		found := false
		for _, f := range t.Fields {
			found = found || f.Name == s
		}
		if !ok || !found {
			failf("%s: %v is not one of the enum's names", where, v)
		}
	case idl.TypeAlias:
		var a *idl.Alias
		for _, x := range iface.Aliases {
			if x.Name == t.Alias {
				a = x
			}
		}
		if a == nil {
			failf("%s: type %s is not declared", where, t.Alias)
			return
		}
		checkValue(where, v, a.Type, iface)
	default:
		failf("%s: unknown type kind %d", where, t.Kind)
	}
}

// checkFields: every key declared and well typed, every non-nullable field
// present.
func checkFields(where string, m map[string]interface{}, t *idl.Type, iface *idl.IDL) {
	declared := map[string]bool{}
	for _, f := range t.Fields {
		declared[f.Name] = true
		v, present := m[f.Name]
		if !present {
			if f.Type.Kind != idl.TypeMaybe {
				failf("%s: field %s is missing (it is not ?nullable)", where, f.Name)
			}
			continue
		}
		checkValue(where+"."+f.Name, v, f.Type, iface)
	}
	for k := range m {
		if !declared[k] {
			failf("%s: key %q is not declared", where, k)
		}
	}
}

// checkReply: a reply to method is its declared output, or a declared error
// (want names the error expected; "" expects success).
func checkReply(method string, r *reply, want string) {
	checked++
	if want == "" {
		iface, m := lookupMethod(method)
		if m == nil {
			failf("%s: not in the interface description", method)
			return
		}
		if r.errName != "" {
			failf("%s: error %s: %s", method, r.errName, r.raw)
			return
		}
		checkFields(method+" reply", r.params, m.Out, iface)
		return
	}
	if r.errName != want {
		failf("%s: want error %s, got %s", method, want, r.raw)
		return
	}
	checkError(r)
}

var provoked = map[string]bool{}

// checkError: the error is declared, its parameters of its declared type.
func checkError(r *reply) {
	iface, e := lookupError(r.errName)
	if e == nil {
		failf("error %s is not declared: %s", r.errName, r.raw)
		return
	}
	provoked[r.errName] = true
	checkFields(r.errName, r.params, e.Type, iface)
}

// describe: both descriptions parse with the package's IDL parser.
func describe(c *conn) {
	r := c.call("org.varlink.service.GetInfo", nil)
	ifaces["org.varlink.service"] = nil
	var names []string
	if list, ok := r.params["interfaces"].([]interface{}); ok {
		for _, n := range list {
			if s, ok := n.(string); ok {
				names = append(names, s)
			}
		}
	}
	if len(names) == 0 {
		fatalf("GetInfo lists no interfaces: %s", r.raw)
	}
	for _, name := range names {
		d := c.call("org.varlink.service.GetInterfaceDescription",
			map[string]string{"interface": name})
		text, _ := d.params["description"].(string)
		parsed, err := idl.New(text)
		if err != nil {
			fatalf("the IDL parser refuses %s's description: %v\n%s", name, err, text)
		}
		if parsed.Name != name {
			failf("description of %s names %s", name, parsed.Name)
		}
		ifaces[name] = parsed
		fmt.Printf("idl: %s parsed: %d types, %d methods, %d errors\n",
			name, len(parsed.Aliases), len(parsed.Methods), len(parsed.Errors))
	}
	checkReply("org.varlink.service.GetInfo", r, "")
}

// validCalls: parameters for each method, in order (Diff before Snapshot
// is NoSnapshot; provoked there).
var validCalls = []struct {
	method string
	params interface{}
}{
	{"org.varlink.service.GetInfo", nil},
	{"org.varlink.service.GetInterfaceDescription", map[string]string{"interface": "io.reclaim"}},
	{"io.reclaim.Stats", nil},
	{"io.reclaim.Stats", map[string]int{"history": 5}},
	{"io.reclaim.Census", nil},
	{"io.reclaim.Collect", nil},
	{"io.reclaim.Collect", map[string]int{"generation": 0}},
	{"io.reclaim.Garbage", nil},
	{"io.reclaim.Snapshot", nil},
	{"io.reclaim.Diff", nil},
	{"io.reclaim.SetDebug", map[string]bool{"leak": false}},
	{"io.reclaim.SetThresholds", nil},
	{"io.reclaim.SetThresholds", map[string]interface{}{"thresholds": []int{700, 10, 10}}},
	{"io.reclaim.Tasks", nil},
	{"io.reclaim.Watchdog", nil},
	{"io.reclaim.RunTask", map[string]interface{}{"task": "tree",
		"args": map[string]string{"depth": "3", "children": "3", "rounds": "2"}}},
	{"io.reclaim.Reload", nil},
}

func callAll(c *conn) {
	// Before any Snapshot: Diff has nothing to compare with.
	checkReply("io.reclaim.Diff", c.call("io.reclaim.Diff", nil), "io.reclaim.NoSnapshot")
	called := map[string]bool{}
	for _, vc := range validCalls {
		checkReply(vc.method, c.call(vc.method, vc.params), "")
		called[vc.method] = true
	}
	for name, iface := range ifaces {
		for _, m := range iface.Methods {
			if !called[name+"."+m.Name] {
				failf("method %s.%s has no valid call in this test: add one", name, m.Name)
			}
		}
	}
	fmt.Printf("methods: %d calls with valid parameters, every method of %d interfaces\n",
		len(validCalls), len(ifaces))
}

// provokeErrors: each error a client can cause, and its parameters.
func provokeErrors(c *conn) {
	e := func(method string, params interface{}, want string) {
		checkReply(method, c.call(method, params), want)
	}
	e("org.varlink.service.GetInterfaceDescription",
		map[string]string{"interface": "org.example.none"},
		"org.varlink.service.InterfaceNotFound")
	e("io.reclaim.NoSuchMethod", nil, "org.varlink.service.MethodNotFound")
	e("io.reclaim.Collect", map[string]string{"generation": "x"},
		"org.varlink.service.InvalidParameter")
	e("io.reclaim.Collect", map[string]int{"no_such_parameter": 1},
		"org.varlink.service.InvalidParameter")
	e("io.reclaim.RunTask", map[string]string{"task": "no-such-task"},
		"io.reclaim.NoSuchTask")
	// A call to an interface not served: InterfaceNotFound too.
	r := c.call("org.example.none.Method", nil)
	if r.errName != "org.varlink.service.InterfaceNotFound" {
		failf("a method of an unknown interface: %s", r.raw)
	} else {
		checkError(r)
	}
	// Not a varlink call at all.
	c.write([]byte("{\"not\": \"a call\"}\x00"))
	r = c.recv("a message without method")
	if r.errName != "io.reclaim.InvalidRequest" {
		failf("a message without method: %s", r.raw)
	} else {
		checkError(r)
	}
	if *failTask != "" {
		e("io.reclaim.RunTask", map[string]string{"task": *failTask}, "io.reclaim.TaskFailed")
	}
	if *configPath != "" {
		configError(c)
	}
	if *slowTask != "" {
		tooMany()
	}
}

// configError: Reload refuses a broken configuration file; then restored.
func configError(c *conn) {
	orig, err := ioutil.ReadFile(*configPath)
	if err != nil {
		fatalf("%v", err)
	}
	broken := append(append([]byte{}, orig...), []byte("\n[no-such-section]\nkey = 1\n")...)
	if err := ioutil.WriteFile(*configPath, broken, 0644); err != nil {
		fatalf("%v", err)
	}
	checkReply("io.reclaim.Reload", c.call("io.reclaim.Reload", nil), "io.reclaim.ConfigError")
	if err := ioutil.WriteFile(*configPath, orig, 0644); err != nil {
		fatalf("%v", err)
	}
	checkReply("io.reclaim.Reload", c.call("io.reclaim.Reload", nil), "")
}

// tooMany: start the slow task on new connections until tasks.max_running
// refuses one; hanging up cancels the others.
func tooMany() {
	var held []*conn
	defer func() {
		for _, h := range held {
			h.c.Close()
		}
	}()
	for i := 0; i < 256; i++ {
		h := dial()
		held = append(held, h)
		h.send("io.reclaim.RunTask", map[string]interface{}{"task": *slowTask,
			"args": map[string]string{"ms": "20000"}})
		h.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := h.r.Peek(1); err != nil {
			continue // no answer yet: it runs, holding a slot
		}
		r := h.recv("RunTask past tasks.max_running")
		checkReply("io.reclaim.RunTask", r, "io.reclaim.TooManyTasks")
		return
	}
	failf("256 slow tasks at once and no TooManyTasks")
}

// oneway: no reply, and the call is performed: SetThresholds' young_bytes
// as read back by the next (answered) call, which is the first reply.
func oneway(c *conn) {
	c.send("io.reclaim.SetThresholds", map[string]int{"young_bytes": 123456}, "oneway")
	r := c.call("io.reclaim.SetThresholds", nil)
	checkReply("io.reclaim.SetThresholds", r, "")
	if n, _ := r.params["young_bytes"].(json.Number); n.String() != "123456" {
		failf("a oneway SetThresholds was not performed, or was answered: %s", r.raw)
	}
	c.send("io.reclaim.Collect", nil, "oneway")
	checkReply("org.varlink.service.GetInfo", c.call("org.varlink.service.GetInfo", nil), "")
	fmt.Println("oneway: no reply, performed")
}

// pipelined: several calls in one write; the replies come in order.
func pipelined(c *conn) {
	methods := []string{"io.reclaim.Stats", "org.varlink.service.GetInfo",
		"io.reclaim.Tasks", "io.reclaim.Census", "io.reclaim.Watchdog",
		"io.reclaim.NoSuchMethod", "io.reclaim.Snapshot"}
	var all []byte
	for _, m := range methods {
		all = append(all, encodeCall(m, nil)...)
	}
	c.write(all)
	for _, m := range methods {
		want := ""
		if m == "io.reclaim.NoSuchMethod" {
			want = "org.varlink.service.MethodNotFound"
		}
		checkReply(m, c.recv("pipelined "+m), want)
	}
	fmt.Printf("pipelined: %d calls in one write, replies in order\n", len(methods))
}

// more: RunTask streams progress ("continues"), then the answer; every
// reply is the declared output.
func more(c *conn) {
	c.send("io.reclaim.RunTask", map[string]interface{}{"task": "churn",
		"args": map[string]string{"duration_ms": "1500", "rate": "200"}}, "more")
	n := 0
	for {
		r := c.recv("RunTask with more")
		checkReply("io.reclaim.RunTask", r, "")
		if !r.continues {
			if _, ok := r.params["result"]; !ok {
				failf("RunTask's last reply has no result: %s", r.raw)
			}
			break
		}
		n++
		if _, ok := r.params["progress"]; !ok {
			failf("a RunTask reply that continues has no progress: %s", r.raw)
		}
	}
	if n < 2 {
		failf("RunTask churn 1.5 s with more: %d replies that continue, want >= 2", n)
	}
	fmt.Printf("more: %d replies that continue, then the last\n", n)
}

// permission: a peer that may not change state gets PermissionDenied.
func permission(c *conn) {
	for _, m := range []string{"io.reclaim.Collect", "io.reclaim.Reload",
		"io.reclaim.SetDebug"} {
		var p interface{}
		if m == "io.reclaim.SetDebug" {
			p = map[string]bool{"leak": true}
		}
		checkReply(m, c.call(m, p), "io.reclaim.PermissionDenied")
	}
	checkReply("io.reclaim.Stats", c.call("io.reclaim.Stats", nil), "")
}

// shuttingDown: SIGTERM with a slow task running (so the daemon drains),
// then a call on a connection already open.
func shuttingDown(c *conn) {
	h := dial()
	defer h.c.Close()
	h.send("io.reclaim.RunTask", map[string]interface{}{"task": *slowTask,
		"args": map[string]string{"ms": "3000"}})
	checkReply("io.reclaim.Stats", c.call("io.reclaim.Stats", nil), "")
	time.Sleep(200 * time.Millisecond) // the task is on its worker
	if err := syscall.Kill(*daemonPid, syscall.SIGTERM); err != nil {
		fatalf("kill %d: %v", *daemonPid, err)
	}
	for i := 0; i < 100; i++ {
		r := c.call("io.reclaim.Stats", nil)
		if r.errName != "" {
			checkReply("io.reclaim.Stats", r, "io.reclaim.ShuttingDown")
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	failf("no ShuttingDown within 2 s of SIGTERM")
}

func main() {
	flag.Parse()
	if *socketPath == "" {
		fatalf("usage: varlink-peer -socket PATH [-config PATH] [-pid N] [-slow-task NAME] [-fail-task NAME] [-unprivileged]")
	}
	c := dial()
	describe(c)
	if *unprivileged {
		permission(c)
	} else {
		callAll(c)
		provokeErrors(c)
		oneway(c)
		pipelined(c)
		more(c)
		if *daemonPid != 0 && *slowTask != "" {
			shuttingDown(c)
		}
		var never []string
		for name, iface := range ifaces {
			for _, e := range iface.Errors {
				if !provoked[name+"."+e.Name] {
					never = append(never, name+"."+e.Name)
				}
			}
		}
		sort.Strings(never)
		fmt.Printf("errors provoked: %d; not provoked here: %s\n", len(provoked),
			strings.Join(never, " "))
	}
	fmt.Printf("replies checked against the IDL: %d\n", checked)
	if len(failures) > 0 {
		fmt.Fprintf(os.Stderr, "varlink-peer: %d mismatches\n", len(failures))
		os.Exit(1)
	}
	fmt.Println("ok")
}
