package main

// `yurt-harness hollow-node`: real kubelet code (kubemark's hollow kubelet) with a fake container
// runtime. Unlike kubemark's own command it identifies as "kubelet/<version>" (so yurthub treats it as
// kubelet), serves TLS with real authentication and authorization (x509 + webhook), binds to a
// loopback address of its own, and keeps its state under --root-dir.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	remote "k8s.io/cri-client/pkg"
	fakeremote "k8s.io/cri-client/pkg/fake"
	kubeletapp "k8s.io/kubernetes/cmd/kubelet/app"
	"k8s.io/kubernetes/cmd/kubelet/app/options"
	kubeletconfig "k8s.io/kubernetes/pkg/kubelet/apis/config"
	cadvisortest "k8s.io/kubernetes/pkg/kubelet/cadvisor/testing"
	"k8s.io/kubernetes/pkg/kubelet/certificate/bootstrap"
	"k8s.io/kubernetes/pkg/kubelet/cm"
	"k8s.io/kubernetes/pkg/kubemark"
)

type hollowNodeOptions struct {
	name                string
	kubeconfig          string
	bootstrapKubeconfig string
	rootDir             string
	nodeIP              string
	kubeletPort         int
	readOnlyPort        int
	clientCAFile        string
	tlsCertFile         string
	tlsKeyFile          string
	contentType         string
	userAgent           string
	labels              map[string]string
	maxPods             int
	statusFrequency     time.Duration
}

func newHollowNodeCommand() *cobra.Command {
	o := &hollowNodeOptions{labels: map[string]string{}}
	cmd := &cobra.Command{
		Use:   "hollow-node",
		Short: "Run a kubelet with a fake container runtime as one node",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHollowNode(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "node name (required)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig kubelet uses; written by TLS bootstrap when --bootstrap-kubeconfig is set (required)")
	f.StringVar(&o.bootstrapKubeconfig, "bootstrap-kubeconfig", "", "bootstrap-token kubeconfig for kubelet TLS bootstrapping")
	f.StringVar(&o.rootDir, "root-dir", "", "kubelet root folder (required)")
	f.StringVar(&o.nodeIP, "node-ip", "127.0.0.1", "loopback address the kubelet serves on and announces as InternalIP")
	f.IntVar(&o.kubeletPort, "kubelet-port", 10250, "kubelet HTTPS port")
	f.IntVar(&o.readOnlyPort, "kubelet-read-only-port", 0, "kubelet read-only HTTP port (0: off)")
	f.StringVar(&o.clientCAFile, "client-ca-file", "", "CA that signs clients of the kubelet API (x509 authentication)")
	f.StringVar(&o.tlsCertFile, "tls-cert-file", "", "kubelet serving certificate (default: self-signed in the cert dir)")
	f.StringVar(&o.tlsKeyFile, "tls-private-key-file", "", "kubelet serving key")
	f.StringVar(&o.contentType, "kube-api-content-type", "application/vnd.kubernetes.protobuf", "content type of requests to the apiserver")
	f.StringVar(&o.userAgent, "user-agent", fmt.Sprintf("kubelet/%s (%s/%s) kubernetes/hollow", kubernetesVersion, runtime.GOOS, runtime.GOARCH), "User-Agent sent to the apiserver")
	f.StringToStringVar(&o.labels, "node-labels", nil, "extra node labels")
	f.IntVar(&o.maxPods, "max-pods", 110, "pod capacity")
	f.DurationVar(&o.statusFrequency, "node-status-update-frequency", 10*time.Second, "how often kubelet posts node status")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("kubeconfig")
	_ = cmd.MarkFlagRequired("root-dir")
	return cmd
}

func runHollowNode(ctx context.Context, o *hollowNodeOptions) error {
	if err := os.MkdirAll(o.rootDir, 0o755); err != nil {
		return err
	}
	root, err := filepath.Abs(o.rootDir)
	if err != nil {
		return err
	}
	// kubemark puts its working folders and the fake runtime's socket in TMPDIR.
	tmp := filepath.Join(root, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	os.Setenv("TMPDIR", tmp)
	certDir := filepath.Join(root, "pki")

	if o.bootstrapKubeconfig != "" {
		if err := bootstrap.LoadClientCert(ctx, o.kubeconfig, o.bootstrapKubeconfig, certDir, types.NodeName(o.name)); err != nil {
			return fmt.Errorf("TLS bootstrap: %w", err)
		}
	}
	clientConfig, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", o.kubeconfig, err)
	}
	clientConfig.ContentType = o.contentType
	clientConfig.UserAgent = o.userAgent
	clientConfig.QPS, clientConfig.Burst = 50, 100
	client, err := clientset.NewForConfig(clientConfig)
	if err != nil {
		return err
	}

	labels := map[string]string{internalIPLabel: o.nodeIP}
	for k, v := range o.labels {
		labels[k] = v
	}
	f, c := kubemark.GetHollowKubeletConfig(&kubemark.HollowKubeletOptions{
		NodeName: o.name, KubeletPort: o.kubeletPort, KubeletReadOnlyPort: o.readOnlyPort,
		MaxPods: o.maxPods, NodeLabels: labels,
	})
	// kubemark makes the kubelet's state folder in /tmp and never removes it; moved beside --root-dir
	// (not into it: tests read the root as a host's files) it goes with the cluster's folder, pod
	// tokens included. A new one each start, as kubemark's.
	if err := adoptStateDir(root, f, c); err != nil {
		return err
	}
	f.CloudProvider = "external"
	f.CertDirectory = certDir
	c.Address = o.nodeIP
	c.NodeStatusUpdateFrequency.Duration = o.statusFrequency
	c.TLSCertFile, c.TLSPrivateKeyFile = o.tlsCertFile, o.tlsKeyFile
	// Test logs run to 100 MB; kubelet's rotation at the 10 Mi default would cut a follow mid-stream.
	c.ContainerLogMaxSize = "2Gi"
	c.Authentication = kubeletconfig.KubeletAuthentication{
		X509:      kubeletconfig.KubeletX509Authentication{ClientCAFile: o.clientCAFile},
		Webhook:   kubeletconfig.KubeletWebhookAuthentication{Enabled: true, CacheTTL: c.Authentication.Webhook.CacheTTL},
		Anonymous: kubeletconfig.KubeletAnonymousAuthentication{Enabled: false},
	}
	c.Authorization = kubeletconfig.KubeletAuthorization{
		Mode:    kubeletconfig.KubeletAuthorizationModeWebhook,
		Webhook: c.Authorization.Webhook,
	}

	heartbeatConfig := *clientConfig
	heartbeatConfig.Timeout = c.NodeStatusUpdateFrequency.Duration
	if lease := time.Duration(c.NodeLeaseDurationSeconds) * time.Second; heartbeatConfig.Timeout > lease {
		heartbeatConfig.Timeout = lease
	}
	heartbeatConfig.QPS = -1
	heartbeatClient, err := clientset.NewForConfig(&heartbeatConfig)
	if err != nil {
		return err
	}

	endpoint, err := fakeremote.GenerateEndpoint()
	if err != nil {
		return err
	}
	fakeRuntime := fakeremote.NewFakeRemoteRuntime()
	if err := fakeRuntime.Start(endpoint); err != nil {
		return fmt.Errorf("fake runtime: %w", err)
	}
	defer fakeRuntime.Stop()
	remoteRuntime, err := remote.NewRemoteRuntimeServiceBuilder().WithEndpoint(endpoint).WithConnectionTimeout(15 * time.Second).Build(ctx)
	if err != nil {
		return fmt.Errorf("runtime service: %w", err)
	}
	// Real log files and a real CRI streaming server on the node's address (streaming.go).
	runtimeService, err := newStreamingRuntime(remoteRuntime, o.nodeIP, filepath.Join(root, "containers"))
	if err != nil {
		return fmt.Errorf("streaming runtime: %w", err)
	}

	tlsOptions, err := kubeletapp.InitializeTLS(ctx, f, c)
	if err != nil {
		return fmt.Errorf("kubelet TLS: %w", err)
	}
	auth, runCAReload, err := kubeletapp.BuildAuth(types.NodeName(o.name), client, *c)
	if err != nil {
		return fmt.Errorf("kubelet auth: %w", err)
	}
	runCAReload(ctx.Done())

	hollow := kubemark.NewHollowKubelet(f, c, client, heartbeatClient,
		&cadvisortest.Fake{NodeName: o.name}, fakeRuntime.ImageService, runtimeService, cm.NewStubContainerManager())
	hollow.KubeletDeps.TLSOptions = tlsOptions
	hollow.KubeletDeps.Auth = auth
	fmt.Fprintf(os.Stderr, "hollow node %s serving on %s:%d via %s (%s)\n", o.name, o.nodeIP, o.kubeletPort, clientConfig.Host, strings.Split(o.userAgent, " ")[0])
	// HollowKubelet.Run never returns; the process ends when its context does, like a power cut.
	go hollow.Run(ctx)
	<-ctx.Done()
	return nil
}

// adoptStateDir moves the folder kubemark made for the kubelet's state (with its static-pods and
// pod-logs folders) beside root and points the configuration at the new place.
func adoptStateDir(root string, f *options.KubeletFlags, c *kubeletconfig.KubeletConfiguration) error {
	state, err := os.MkdirTemp(filepath.Dir(root), filepath.Base(root)+".kubelet-state-")
	if err != nil {
		return err
	}
	if err := os.Remove(state); err != nil {
		return err
	}
	old := f.RootDirectory
	if err := os.Rename(old, state); err != nil {
		return fmt.Errorf("move the kubelet state folder %s beside %s: %w", old, root, err)
	}
	moved := func(p string) string {
		if rel, err := filepath.Rel(old, p); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.Join(state, rel)
		}
		return p
	}
	f.RootDirectory = state
	c.StaticPodPath = moved(c.StaticPodPath)
	c.PodLogsDir = moved(c.PodLogsDir)
	return nil
}
