package main

// Real streams for hollow nodes. kubemark's fake CRI runtime keeps containers as records only: no log
// files, and Exec/Attach/PortForward answer with empty URLs. This wrapper around the runtime client
// gives each container a real CRI-format log file that the kubelet reads for `kubectl logs`, and
// serves exec/attach/port-forward from the CRI streaming server (k8s.io/cri-streaming, what containerd
// and CRI-O embed), so kubectl, kube-apiserver and kubelet run their own streaming code end to end:
//   - exec runs the command as a local process (a pty for -t), exit codes propagate;
//   - attach joins the container's console: what is written to its stdin is echoed to its stdout
//     (and its log), as if the container's main process were `cat`;
//   - port-forward dials <node-ip>:<port>, the node's own address standing in for the pod's.
//
// Container environment variables shape the log:
//   HARNESS_LOG_BYTES=n      after the greeting line, write n more bytes of deterministic lines
//   HARNESS_LOG_LINE=n       length of those lines including the newline (default 1024)
//   HARNESS_LOG_RATE=n       bytes per second (default 0: as fast as possible)
//   HARNESS_EXIT_AFTER_LOG=1 the container exits (code 0) once the log is written
// Line i of the generated log is "%09d|" followed by letters ('a'+(i+j)%26 for position j) and "\n";
// the last line is cut short to make exactly n bytes. test/e2e generates the same bytes to compare.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/creack/pty"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/klog/v2"
	utilexec "k8s.io/utils/exec"
)

type streamingRuntime struct {
	internalapi.RuntimeService
	nodeIP   string
	workRoot string
	server   streaming.Server

	mu         sync.Mutex
	containers map[string]*harnessContainer
}

type harnessContainer struct {
	id, pod, namespace, name string
	env                      map[string]string
	workDir                  string
	console                  *console
	stop                     context.CancelFunc
}

// newStreamingRuntime wraps the runtime client and starts the streaming server on nodeIP.
func newStreamingRuntime(inner internalapi.RuntimeService, nodeIP, workRoot string) (*streamingRuntime, error) {
	r := &streamingRuntime{RuntimeService: inner, nodeIP: nodeIP, workRoot: workRoot, containers: map[string]*harnessContainer{}}
	listener, err := net.Listen("tcp", net.JoinHostPort(nodeIP, "0"))
	if err != nil {
		return nil, fmt.Errorf("streaming server: %w", err)
	}
	config := streaming.DefaultConfig
	config.Addr = listener.Addr().String()
	config.BaseURL = &url.URL{Scheme: "http", Host: listener.Addr().String()}
	server, err := streaming.NewServer(config, processRuntime{r})
	if err != nil {
		listener.Close()
		return nil, err
	}
	r.server = server
	go func() {
		if err := http.Serve(listener, server); err != nil {
			klog.ErrorS(err, "streaming server stopped")
		}
	}()
	klog.InfoS("CRI streaming server listening", "address", listener.Addr().String())
	return r, nil
}

func (r *streamingRuntime) container(id string) (*harnessContainer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil, fmt.Errorf("container %q is not known to the harness runtime", id)
	}
	return c, nil
}

func (r *streamingRuntime) CreateContainer(ctx context.Context, sandboxID string, config *runtimeapi.ContainerConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	id, err := r.RuntimeService.CreateContainer(ctx, sandboxID, config, sandboxConfig)
	if err != nil {
		return id, err
	}
	env := map[string]string{}
	for _, kv := range config.GetEnvs() {
		env[kv.Key] = string(kv.Value)
	}
	logPath := filepath.Join(sandboxConfig.GetLogDirectory(), config.GetLogPath())
	c := &harnessContainer{
		id: id, pod: sandboxConfig.GetMetadata().GetName(), namespace: sandboxConfig.GetMetadata().GetNamespace(),
		name: config.GetMetadata().GetName(), env: env, workDir: filepath.Join(r.workRoot, id),
	}
	if err := os.MkdirAll(c.workDir, 0o755); err != nil {
		return id, err
	}
	if c.console, err = newConsole(logPath); err != nil {
		return id, err
	}
	r.mu.Lock()
	if old := r.containers[id]; old != nil {
		old.close()
	}
	r.containers[id] = c
	r.mu.Unlock()
	return id, nil
}

func (r *streamingRuntime) StartContainer(ctx context.Context, id string) error {
	if err := r.RuntimeService.StartContainer(ctx, id); err != nil {
		return err
	}
	c, err := r.container(id)
	if err != nil {
		return nil
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	go r.writeLog(runCtx, c)
	return nil
}

func (r *streamingRuntime) StopContainer(ctx context.Context, id string, timeout int64) error {
	if c, err := r.container(id); err == nil && c.stop != nil {
		c.stop()
	}
	return r.RuntimeService.StopContainer(ctx, id, timeout)
}

func (r *streamingRuntime) RemoveContainer(ctx context.Context, id string) error {
	r.mu.Lock()
	c := r.containers[id]
	delete(r.containers, id)
	r.mu.Unlock()
	if c != nil {
		c.close()
		os.RemoveAll(c.workDir)
	}
	return r.RuntimeService.RemoveContainer(ctx, id)
}

// ContainerStatus adds the log path the fake runtime does not keep; kubelet reads logs from it.
func (r *streamingRuntime) ContainerStatus(ctx context.Context, id string, verbose bool) (*runtimeapi.ContainerStatusResponse, error) {
	resp, err := r.RuntimeService.ContainerStatus(ctx, id, verbose)
	if err == nil && resp.GetStatus() != nil {
		if c, cerr := r.container(id); cerr == nil {
			resp.Status.LogPath = c.console.path
		}
	}
	return resp, err
}

func (r *streamingRuntime) ReopenContainerLog(ctx context.Context, id string) error {
	c, err := r.container(id)
	if err != nil {
		return r.RuntimeService.ReopenContainerLog(ctx, id)
	}
	return c.console.reopen()
}

func (r *streamingRuntime) Exec(_ context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	return r.server.GetExec(req)
}

func (r *streamingRuntime) Attach(_ context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return r.server.GetAttach(req)
}

func (r *streamingRuntime) PortForward(_ context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	return r.server.GetPortForward(req)
}

func (c *harnessContainer) close() {
	if c.stop != nil {
		c.stop()
	}
	c.console.close()
}

// writeLog is the container's "main process": a greeting, then the configured generated log.
func (r *streamingRuntime) writeLog(ctx context.Context, c *harnessContainer) {
	c.console.write("stdout", []byte(fmt.Sprintf("%s/%s started on %s\n", c.namespace, c.pod, r.nodeIP)))
	total, _ := strconv.ParseInt(c.env["HARNESS_LOG_BYTES"], 10, 64)
	if total <= 0 {
		return
	}
	lineLen, _ := strconv.Atoi(c.env["HARNESS_LOG_LINE"])
	if lineLen < 11 {
		lineLen = 1024
	}
	rate, _ := strconv.ParseInt(c.env["HARNESS_LOG_RATE"], 10, 64)
	started := time.Now()
	var written int64
	batch := make([]byte, 0, 256*1024)
	for i := 0; written < total; i++ {
		n := int64(lineLen)
		if total-written < n {
			n = total - written
		}
		batch = appendGeneratedLine(batch, i, int(n))
		written += n
		if len(batch) >= 64*1024 || written == total {
			c.console.write("stdout", batch)
			batch = batch[:0]
			if rate > 0 {
				due := started.Add(time.Duration(float64(written) / float64(rate) * float64(time.Second)))
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(due)):
				}
			} else if ctx.Err() != nil {
				return
			}
		}
	}
	klog.InfoS("container log written", "container", c.id, "bytes", written, "seconds", time.Since(started).Seconds())
	if c.env["HARNESS_EXIT_AFTER_LOG"] == "1" {
		if err := r.RuntimeService.StopContainer(context.Background(), c.id, 0); err != nil {
			klog.ErrorS(err, "could not mark the container exited", "container", c.id)
		}
	}
}

// appendGeneratedLine appends line i of the generated log, n bytes long, the last one a newline.
func appendGeneratedLine(b []byte, i, n int) []byte {
	line := make([]byte, n)
	prefix := fmt.Sprintf("%09d|", i)
	for j := 0; j < n-1; j++ {
		if j < len(prefix) {
			line[j] = prefix[j]
		} else {
			line[j] = byte('a' + (i+j)%26)
		}
	}
	line[n-1] = '\n'
	return append(b, line...)
}

// processRuntime is the streaming server's side of the runtime: what runs behind the URLs that the
// CRI Exec/Attach/PortForward calls hand out.
type processRuntime struct{ r *streamingRuntime }

// Exec runs the command as a local process in the container's work folder.
func (p processRuntime) Exec(ctx context.Context, id string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	c, err := p.r.container(id)
	if err != nil {
		return err
	}
	if len(cmd) == 0 {
		return errors.New("no command")
	}
	command := osexec.CommandContext(ctx, cmd[0], cmd[1:]...)
	command.Dir = c.workDir
	command.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + c.workDir, "HOSTNAME=" + c.pod, "TERM=xterm"}
	for k, v := range c.env {
		command.Env = append(command.Env, k+"="+v)
	}
	if tty {
		err = runWithPty(command, in, out, resize)
	} else {
		err = runPiped(command, in, out, errw)
	}
	var exitErr *osexec.ExitError
	if errors.As(err, &exitErr) {
		return &utilexec.ExitErrorWrapper{ExitError: exitErr}
	}
	return err
}

func runPiped(command *osexec.Cmd, in io.Reader, out, errw io.Writer) error {
	command.Stdout, command.Stderr = out, errw
	if in == nil {
		return command.Run()
	}
	// Not command.Stdin = in: Wait would then wait for stdin's EOF even after the process exited.
	stdin, err := command.StdinPipe()
	if err != nil {
		return err
	}
	if err := command.Start(); err != nil {
		return err
	}
	go func() {
		io.Copy(stdin, in)
		stdin.Close()
	}()
	return command.Wait()
}

func runWithPty(command *osexec.Cmd, in io.Reader, out io.Writer, resize <-chan remotecommandserver.TerminalSize) error {
	ptmx, err := pty.Start(command)
	if err != nil {
		return err
	}
	defer ptmx.Close()
	go func() {
		for size := range resize {
			pty.Setsize(ptmx, &pty.Winsize{Rows: size.Height, Cols: size.Width})
		}
	}()
	if in != nil {
		go io.Copy(ptmx, in)
	}
	copied := make(chan struct{})
	go func() {
		// Ends with EIO once the process and everything it started have closed the terminal.
		io.Copy(out, ptmx)
		close(copied)
	}()
	err = command.Wait()
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	return err
}

// Attach joins the container console: stdin is echoed to stdout (and the log) until stdin ends.
func (p processRuntime) Attach(ctx context.Context, id string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	c, err := p.r.container(id)
	if err != nil {
		return err
	}
	if tty || errw == nil {
		errw = out
	}
	unsubscribe := c.console.subscribe(out, errw)
	defer unsubscribe()
	go func() {
		for range resize {
		}
	}()
	if in == nil {
		<-ctx.Done()
		return nil
	}
	reader := bufio.NewReader(in)
	for {
		chunk, err := reader.ReadBytes('\n')
		if len(chunk) > 0 {
			c.console.write("stdout", chunk)
		}
		if err != nil {
			return nil
		}
	}
}

// PortForward connects the stream to <node-ip>:<port>, the node's own address standing in for the pod's.
func (p processRuntime) PortForward(ctx context.Context, _ string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(p.r.nodeIP, strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("port-forward to %s:%d: %w", p.r.nodeIP, port, err)
	}
	defer conn.Close()
	go func() {
		io.Copy(conn, stream)
		// The client finished sending: pass the half-close on, keep reading the answer.
		if tcp, ok := conn.(*net.TCPConn); ok {
			tcp.CloseWrite()
		}
	}()
	_, err = io.Copy(stream, conn)
	return err
}

// console is a container's stdout/stderr: a CRI-format log file plus attached readers.
type console struct {
	path string
	mu   sync.Mutex
	file *os.File
	subs map[int]*subscriber
	next int
}

type subscriber struct {
	stdout, stderr io.Writer
	ch             chan entry
	done           chan struct{}
}

type entry struct {
	stream string
	data   []byte
}

func newConsole(path string) (*console, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &console{path: path, file: f, subs: map[int]*subscriber{}}, nil
}

// write appends data to the log in CRI format (`<RFC3339Nano> <stream> F|P <content>`), one entry
// per line, a trailing piece without newline as a partial entry, and hands it to attached readers.
func (c *console) write(stream string, data []byte) {
	var buf strings.Builder
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	rest := data
	for len(rest) > 0 {
		nl := strings.IndexByte(string(rest), '\n')
		if nl == -1 {
			buf.WriteString(ts + " " + stream + " P ")
			buf.Write(rest)
			buf.WriteByte('\n')
			break
		}
		buf.WriteString(ts + " " + stream + " F ")
		buf.Write(rest[:nl+1])
		rest = rest[nl+1:]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.file != nil {
		c.file.WriteString(buf.String())
	}
	for id, s := range c.subs {
		select {
		case s.ch <- entry{stream: stream, data: append([]byte(nil), data...)}:
		default:
			// A reader that cannot keep up is cut off rather than stalling the container.
			close(s.ch)
			delete(c.subs, id)
		}
	}
}

func (c *console) subscribe(stdout, stderr io.Writer) func() {
	s := &subscriber{stdout: stdout, stderr: stderr, ch: make(chan entry, 1024), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for e := range s.ch {
			w := s.stdout
			if e.stream == "stderr" {
				w = s.stderr
			}
			if _, err := w.Write(e.data); err != nil {
				return
			}
		}
	}()
	c.mu.Lock()
	id := c.next
	c.next++
	c.subs[id] = s
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		if _, ok := c.subs[id]; ok {
			delete(c.subs, id)
			close(s.ch)
		}
		c.mu.Unlock()
		<-s.done
	}
}

func (c *console) reopen() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.file != nil {
		c.file.Close()
	}
	f, err := os.OpenFile(c.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.file = nil
		return err
	}
	c.file = f
	return nil
}

func (c *console) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.file != nil {
		c.file.Close()
		c.file = nil
	}
	for id, s := range c.subs {
		close(s.ch)
		delete(c.subs, id)
	}
}
