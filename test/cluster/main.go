// Command yurt-harness builds the real Kubernetes control plane and hollow nodes that yurt-edge's
// integration and end-to-end tests run against. One binary, one build, one cache.
package main

import (
	"context"
	goflag "flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	"k8s.io/klog/v2"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
)

// kubernetesVersion must match the k8s.io/kubernetes requirement in go.mod; build.ts checks it.
const kubernetesVersion = "v1.37.2"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "kubectl" {
		// kubectl owns its flags, signals and exit codes; hand it the rest of argv untouched.
		os.Args = append(os.Args[:1], os.Args[2:]...)
		if err := cli.RunNoErrOutput(kubectlcmd.NewDefaultKubectlCommand()); err != nil {
			kubectlutil.CheckErr(err)
		}
		os.Exit(0)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{Use: "yurt-harness", SilenceUsage: true}
	root.AddCommand(newControlPlaneCommand(), newHollowNodeCommand(), newVersionCommand())
	klog.InitFlags(nil)
	root.PersistentFlags().AddGoFlagSet(goflag.CommandLine)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "yurt-harness:", err)
		os.Exit(1)
	}
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the Kubernetes version the harness is built from",
		Run:   func(*cobra.Command, []string) { fmt.Println(kubernetesVersion) },
	}
}
