package main

// Kubelet refuses loopback node IPs, yet every hollow node must be reachable only on 127.0.0.0/8.
// Hollow kubelets therefore run with --cloud-provider=external and announce the loopback address they
// serve on in a label; this loop plays the part of a cloud controller manager's node controller:
// it writes the addresses and lifts the "uninitialized" taint, exactly as a real CCM would.

import (
	"context"
	"encoding/json"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
)

const (
	internalIPLabel    = "harness.yurt-edge.io/internal-ip"
	uninitializedTaint = "node.cloudprovider.kubernetes.io/uninitialized"
)

func runNodeAddressController(ctx context.Context, client kubernetes.Interface) {
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: internalIPLabel})
		if err != nil {
			continue
		}
		for i := range nodes.Items {
			if err := initializeNode(ctx, client, &nodes.Items[i]); err != nil {
				klog.ErrorS(err, "initialize node", "node", nodes.Items[i].Name)
			}
		}
	}
}

func initializeNode(ctx context.Context, client kubernetes.Interface, node *corev1.Node) error {
	ip := node.Labels[internalIPLabel]
	want := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}, {Type: corev1.NodeHostName, Address: node.Name}}
	if !sameAddresses(node.Status.Addresses, want) {
		patch, _ := json.Marshal(map[string]any{"status": map[string]any{"addresses": want}})
		patched, err := client.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
		if err != nil {
			return err
		}
		// The taint patch below is guarded by resourceVersion: the one from before our own status
		// patch would make it conflict every time, leaving the node tainted for another tick.
		node = patched
	}
	// kubelet and the node lifecycle controller write the Node too; a conflict only means "read again".
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !hasTaint(node, uninitializedTaint) {
			return nil
		}
		var kept []corev1.Taint
		for _, t := range node.Spec.Taints {
			if t.Key != uninitializedTaint {
				kept = append(kept, t)
			}
		}
		patch, _ := json.Marshal(map[string]any{
			"metadata": map[string]any{"resourceVersion": node.ResourceVersion},
			"spec":     map[string]any{"taints": kept},
		})
		_, err := client.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		if apierrors.IsConflict(err) {
			if fresh, getErr := client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{}); getErr == nil {
				node = fresh
			}
		}
		return err
	})
}

func hasTaint(node *corev1.Node, key string) bool {
	for _, t := range node.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

func sameAddresses(a, b []corev1.NodeAddress) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
