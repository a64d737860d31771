// Package k8s holds the Kubernetes manifests (base and the local and neon
// overlays, built with kustomize) and, in its test, the checks that they
// decode strictly into the Kubernetes API types and agree with each other
// and with the binaries: labels and selectors, ports and the listen
// addresses the binaries read, probes, and the Secrets and ConfigMaps they
// reference.
package k8s
