package main

// `yurt-harness controlplane`: embedded etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler in one process on 127.0.0.1, with a self-generated CA, bootstrap tokens and the RBAC
// kubeadm sets up for kubelet TLS bootstrapping. It writes cluster.json into --dir once the apiserver
// is ready, and runs until SIGTERM/SIGINT.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/server/v3/embed"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

type controlPlaneOptions struct {
	dir                      string
	apiserverPort            int
	extraAPIServerArgs       []string
	extraControllerArgs      []string
	unreachableToleration    int
	notReadyToleration       int
	nodeMonitorGracePeriod   time.Duration
	withoutScheduler         bool
	withoutControllerManager bool
	bindAddress              string
	extraSANs                []string
}

// clusterInfo is the contract with the TypeScript harness (test/cluster/*.ts).
type clusterInfo struct {
	PID                 int    `json:"pid"`
	Server              string `json:"server"`
	CAFile              string `json:"caFile"`
	CAKeyFile           string `json:"caKeyFile"`
	AdminKubeconfig     string `json:"adminKubeconfig"`
	BootstrapKubeconfig string `json:"bootstrapKubeconfig"`
	BootstrapToken      string `json:"bootstrapToken"`
	EtcdEndpoint        string `json:"etcdEndpoint"`
	Version             string `json:"version"`
}

func newControlPlaneCommand() *cobra.Command {
	o := &controlPlaneOptions{}
	cmd := &cobra.Command{
		Use:   "controlplane",
		Short: "Run etcd, kube-apiserver, kube-controller-manager and kube-scheduler on 127.0.0.1",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runControlPlane(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "state folder: pki, etcd data, kubeconfigs, cluster.json (required)")
	f.IntVar(&o.apiserverPort, "apiserver-port", 0, "secure port of kube-apiserver (0: a free port)")
	f.StringArrayVar(&o.extraAPIServerArgs, "apiserver-arg", nil, "extra kube-apiserver flag, e.g. --apiserver-arg=--egress-selector-config-file=/x (repeatable)")
	f.StringArrayVar(&o.extraControllerArgs, "controller-manager-arg", nil, "extra kube-controller-manager flag (repeatable)")
	f.IntVar(&o.unreachableToleration, "default-unreachable-toleration-seconds", 300, "kube-apiserver --default-unreachable-toleration-seconds")
	f.IntVar(&o.notReadyToleration, "default-not-ready-toleration-seconds", 300, "kube-apiserver --default-not-ready-toleration-seconds")
	f.DurationVar(&o.nodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second, "kube-controller-manager --node-monitor-grace-period")
	f.BoolVar(&o.withoutScheduler, "without-scheduler", false, "do not run kube-scheduler")
	f.BoolVar(&o.withoutControllerManager, "without-controller-manager", false, "do not run kube-controller-manager")
	f.StringVar(&o.bindAddress, "bind-address", "127.0.0.1", "address kube-apiserver listens and advertises on, and the one in every kubeconfig (real nodes: a docker network's gateway)")
	f.StringArrayVar(&o.extraSANs, "extra-san", nil, "extra DNS name or IP address in the apiserver's serving certificate (repeatable)")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

func freePort() (int, error) { return freePortOn("127.0.0.1") }

func freePortOn(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startEtcd(dir string) (*embed.Etcd, string, error) {
	clientPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cfg := embed.NewConfig()
	cfg.Name = "harness"
	cfg.Dir = filepath.Join(dir, "etcd")
	cfg.Logger = "zap"
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}
	clientURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(clientPort))}
	peerURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(peerPort))}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// The harness throws etcd away after each run; syncing every write only costs test time.
	cfg.UnsafeNoFsync = true
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, "", fmt.Errorf("etcd did not become ready within 60s")
	}
	return e, clientURL.String(), nil
}

type controlPlanePaths struct {
	pki, caFile, caKey, apiserverCert, apiserverKey, kubeletClientCert, kubeletClientKey   string
	saKey, saPub, adminKubeconfig, kcmKubeconfig, schedulerKubeconfig, bootstrapKubeconfig string
}

func writeControlPlanePKI(dir, server, token string, extraSANs []string) (*controlPlanePaths, error) {
	p := &controlPlanePaths{pki: filepath.Join(dir, "pki")}
	if err := os.MkdirAll(p.pki, 0o700); err != nil {
		return nil, err
	}
	ca, err := newCA("yurt-harness-ca")
	if err != nil {
		return nil, err
	}
	if p.caFile, p.caKey, err = ca.write(p.pki, "ca"); err != nil {
		return nil, err
	}
	leaf := func(name string, spec leafSpec) (string, string, error) {
		kp, err := ca.sign(spec)
		if err != nil {
			return "", "", err
		}
		return kp.write(p.pki, name)
	}
	dnsNames := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}
	for _, san := range extraSANs {
		if ip := net.ParseIP(san); ip != nil {
			ips = append(ips, ip)
		} else {
			dnsNames = append(dnsNames, san)
		}
	}
	if p.apiserverCert, p.apiserverKey, err = leaf("apiserver", leafSpec{
		commonName: "kube-apiserver", server: true, dnsNames: dnsNames, ips: ips,
	}); err != nil {
		return nil, err
	}
	if p.kubeletClientCert, p.kubeletClientKey, err = leaf("apiserver-kubelet-client", leafSpec{
		commonName: "kube-apiserver-kubelet-client", organization: []string{"kubeadm:cluster-admins"}, client: true,
	}); err != nil {
		return nil, err
	}
	if p.saKey, p.saPub, err = writeServiceAccountKey(p.pki); err != nil {
		return nil, err
	}
	clients := []struct {
		name, cn string
		orgs     []string
		target   *string
	}{
		{"admin", "kubernetes-admin", []string{"system:masters"}, &p.adminKubeconfig},
		{"controller-manager", "system:kube-controller-manager", nil, &p.kcmKubeconfig},
		{"scheduler", "system:kube-scheduler", nil, &p.schedulerKubeconfig},
	}
	for _, c := range clients {
		certFile, keyFile, err := leaf(c.name, leafSpec{commonName: c.cn, organization: c.orgs, client: true})
		if err != nil {
			return nil, err
		}
		*c.target = filepath.Join(dir, c.name+".kubeconfig")
		if err := writeKubeconfig(*c.target, kubeconfigSpec{server: server, caFile: p.caFile, certFile: certFile, keyFile: keyFile, user: c.cn}); err != nil {
			return nil, err
		}
	}
	p.bootstrapKubeconfig = filepath.Join(dir, "bootstrap.kubeconfig")
	if err := writeKubeconfig(p.bootstrapKubeconfig, kubeconfigSpec{server: server, caFile: p.caFile, token: token, user: "tls-bootstrap-token-user"}); err != nil {
		return nil, err
	}
	return p, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func runControlPlane(parent context.Context, o *controlPlaneOptions) error {
	if o.dir == "" {
		return fmt.Errorf("--dir is required")
	}
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	port := o.apiserverPort
	if port == 0 {
		if port, err = freePortOn(o.bindAddress); err != nil {
			return err
		}
	}
	bindIP := net.ParseIP(o.bindAddress)
	if bindIP == nil {
		return fmt.Errorf("--bind-address %q is not an IP address", o.bindAddress)
	}
	server := "https://" + net.JoinHostPort(o.bindAddress, strconv.Itoa(port))
	tokenID, tokenSecret := randomHex(3), randomHex(8)
	paths, err := writeControlPlanePKI(dir, server, tokenID+"."+tokenSecret, append([]string{o.bindAddress}, o.extraSANs...))
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}

	etcd, etcdURL, err := startEtcd(dir)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Close()
	klog.InfoS("etcd ready", "url", etcdURL)

	failed := make(chan error, 3)
	apiserverArgs := append([]string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=" + o.bindAddress,
		"--advertise-address=" + o.bindAddress,
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + paths.apiserverCert,
		"--tls-private-key-file=" + paths.apiserverKey,
		"--client-ca-file=" + paths.caFile,
		"--service-account-key-file=" + paths.saPub,
		"--service-account-signing-key-file=" + paths.saKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--enable-bootstrap-token-auth=true",
		"--allow-privileged=true",
		"--kubelet-client-certificate=" + paths.kubeletClientCert,
		"--kubelet-client-key=" + paths.kubeletClientKey,
		"--kubelet-preferred-address-types=InternalIP,Hostname",
		// The endpoint reconciler refuses loopback addresses for the kubernetes Service.
		"--endpoint-reconciler-type=none",
		"--default-unreachable-toleration-seconds=" + strconv.Itoa(o.unreachableToleration),
		"--default-not-ready-toleration-seconds=" + strconv.Itoa(o.notReadyToleration),
		"--profiling=false",
	}, o.extraAPIServerArgs...)
	go func() { failed <- fmt.Errorf("kube-apiserver exited: %v", runAPIServer(ctx, apiserverArgs)) }()

	admin, err := clientcmd.BuildConfigFromFlags("", paths.adminKubeconfig)
	if err != nil {
		return err
	}
	client := kubernetes.NewForConfigOrDie(admin)
	if err := waitReady(ctx, client, failed); err != nil {
		return err
	}
	klog.InfoS("kube-apiserver ready", "server", server)
	if err := bootstrapCluster(ctx, client, tokenID, tokenSecret); err != nil {
		return fmt.Errorf("bootstrap objects: %w", err)
	}

	if !o.withoutControllerManager {
		kcmArgs := append([]string{
			"--kubeconfig=" + paths.kcmKubeconfig,
			"--secure-port=0",
			"--leader-elect=false",
			"--controllers=*,bootstrapsigner,tokencleaner",
			"--cluster-signing-cert-file=" + paths.caFile,
			"--cluster-signing-key-file=" + paths.caKey,
			"--root-ca-file=" + paths.caFile,
			"--service-account-private-key-file=" + paths.saKey,
			"--use-service-account-credentials=true",
			"--node-monitor-grace-period=" + o.nodeMonitorGracePeriod.String(),
			"--node-monitor-period=2s",
			"--profiling=false",
		}, o.extraControllerArgs...)
		go func() { failed <- fmt.Errorf("kube-controller-manager exited: %v", runControllerManager(ctx, kcmArgs)) }()
	}
	if !o.withoutScheduler {
		schedArgs := []string{"--kubeconfig=" + paths.schedulerKubeconfig, "--secure-port=0", "--leader-elect=false", "--profiling=false"}
		go func() { failed <- fmt.Errorf("kube-scheduler exited: %v", runScheduler(ctx, schedArgs)) }()
	}
	go runNodeAddressController(ctx, client)

	info := clusterInfo{
		PID: os.Getpid(), Server: server, CAFile: paths.caFile, CAKeyFile: paths.caKey,
		AdminKubeconfig: paths.adminKubeconfig, BootstrapKubeconfig: paths.bootstrapKubeconfig,
		BootstrapToken: tokenID + "." + tokenSecret, EtcdEndpoint: etcdURL, Version: kubernetesVersion,
	}
	if err := writeJSONAtomic(filepath.Join(dir, "cluster.json"), info); err != nil {
		return err
	}
	klog.InfoS("control plane ready", "dir", dir)

	select {
	case <-parent.Done():
		klog.InfoS("control plane stopping")
		cancel()
		// Give kube-apiserver a moment to close watches before etcd goes away.
		time.Sleep(500 * time.Millisecond)
		return nil
	case err := <-failed:
		return err
	}
}

func waitReady(ctx context.Context, client kubernetes.Interface, failed <-chan error) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		select {
		case err := <-failed:
			return err
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver not ready after 3m: %v %s", err, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func writeJSONAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// bootstrapCluster creates what kubeadm's init phases create for TLS bootstrapping: a bootstrap
// token and the bindings that let token holders request, and get approved, node client certificates.
func bootstrapCluster(ctx context.Context, client kubernetes.Interface, tokenID, tokenSecret string) error {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + tokenID, Namespace: "kube-system"},
		Type:       corev1.SecretTypeBootstrapToken,
		StringData: map[string]string{
			"token-id": tokenID, "token-secret": tokenSecret,
			"usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true",
			"auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
		},
	}
	if _, err := client.CoreV1().Secrets("kube-system").Create(ctx, secret, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	bindings := []struct{ name, role, group string }{
		{"kubeadm:kubelet-bootstrap", "system:node-bootstrapper", "system:bootstrappers:kubeadm:default-node-token"},
		{"kubeadm:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", "system:bootstrappers:kubeadm:default-node-token"},
		{"kubeadm:node-autoapprove-certificate-rotation", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "system:nodes"},
		{"kubeadm:cluster-admins", "cluster-admin", "kubeadm:cluster-admins"},
	}
	for _, b := range bindings {
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: b.name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: b.role},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "Group", Name: b.group}},
		}
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{})
			return err == nil || apierrors.IsAlreadyExists(err), nil
		})
		if err != nil {
			return fmt.Errorf("clusterrolebinding %s: %w", b.name, err)
		}
	}
	return nil
}
