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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
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
		if _, err := client.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
			return err
		}
	}
	var kept []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Key != uninitializedTaint {
			kept = append(kept, t)
		}
	}
	if len(kept) == len(node.Spec.Taints) {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": node.ResourceVersion},
		"spec":     map[string]any{"taints": kept},
	})
	_, err := client.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
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
