package k8s_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/todo-platform/todo/deploy/internal/envscan"
)

// overlays are the kustomize overlays and the example Secrets each one's
// references must be found in.
var overlays = map[string]string{
	"overlays/local": "examples/local-secrets.example.yaml",
	"overlays/neon":  "examples/neon-secrets.example.yaml",
}

// binaries maps an image's last path element to the binary's source folder
// (for the variables it reads) and the gRPC service it serves.
var binaries = map[string]struct{ dir, service string }{
	"user-service": {"../../services/user", "todo.user.v1.UserService"},
	"task-service": {"../../services/task", "todo.task.v1.TaskService"},
	"gateway":      {"../../services/gateway", ""},
}

// TestManifests_DecodeStrictly decodes every YAML file under deploy/k8s and
// deploy/backup, document by document, into its Kubernetes API type (or
// kustomize's Kustomization) with unknown fields refused.
func TestManifests_DecodeStrictly(t *testing.T) {
	files := manifestFiles(t)
	if len(files) < 10 {
		t.Fatalf("found only %d manifest files: %v", len(files), files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeAll(data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestManifests_MisspeltFieldFails is the strict decoding's own check: a
// copy of a Deployment with one field misspelt does not decode.
func TestManifests_MisspeltFieldFails(t *testing.T) {
	data, err := os.ReadFile("base/user-service.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeAll(data); err != nil {
		t.Fatalf("the original does not decode: %v", err)
	}
	for _, typo := range [][2]string{
		{"containerPort:", "containerPrt:"},
		{"readOnlyRootFilesystem:", "readOnlyRootFileSystem:"},
		{"minAvailable:", "minAvailble:"},
		{"averageUtilization:", "averageUtilisation:"},
	} {
		bad := bytes.Replace(data, []byte(typo[0]), []byte(typo[1]), 1)
		if bytes.Equal(bad, data) {
			t.Fatalf("%s not in the file", typo[0])
		}
		if _, err := decodeAll(bad); err == nil {
			t.Errorf("a copy with %s misspelt as %s decoded", typo[0], typo[1])
		} else if !strings.Contains(err.Error(), strings.TrimSuffix(typo[1], ":")) {
			t.Errorf("the error for %s does not name it: %v", typo[1], err)
		}
	}
}

// TestOverlays_CrossReferences builds each overlay with kustomize and
// checks what the objects say about each other and about the binaries.
func TestOverlays_CrossReferences(t *testing.T) {
	for overlay, examples := range overlays {
		t.Run(filepath.Base(overlay), func(t *testing.T) {
			objs := build(t, overlay)
			secrets := exampleSecrets(t, examples)
			checkOverlay(t, objs, secrets)
		})
	}
}

// objects is an overlay's build, by kind.
type objects struct {
	deployments  []*appsv1.Deployment
	statefulSets []*appsv1.StatefulSet
	jobs         []*batchv1.Job
	cronJobs     []*batchv1.CronJob
	services     []*corev1.Service
	pdbs         []*policyv1.PodDisruptionBudget
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	policies     []*networkingv1.NetworkPolicy
	configMaps   []*corev1.ConfigMap
	secrets      []*corev1.Secret
	other        []string
}

// workload is a pod template and what owns it.
type workload struct {
	kind, name string
	selector   *metav1.LabelSelector
	pod        *corev1.PodTemplateSpec
}

func (o *objects) workloads() []workload {
	var ws []workload
	for _, d := range o.deployments {
		ws = append(ws, workload{"Deployment", d.Name, d.Spec.Selector, &d.Spec.Template})
	}
	for _, s := range o.statefulSets {
		ws = append(ws, workload{"StatefulSet", s.Name, s.Spec.Selector, &s.Spec.Template})
	}
	for _, j := range o.jobs {
		ws = append(ws, workload{"Job", j.Name, nil, &j.Spec.Template})
	}
	for _, c := range o.cronJobs {
		ws = append(ws, workload{"CronJob", c.Name, nil, &c.Spec.JobTemplate.Spec.Template})
	}
	return ws
}

// matching returns the workloads whose pods sel selects.
func (o *objects) matching(t *testing.T, sel *metav1.LabelSelector) []workload {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Errorf("selector %v: %v", sel, err)
		return nil
	}
	var out []workload
	for _, w := range o.workloads() {
		if s.Matches(labels.Set(w.pod.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

func checkOverlay(t *testing.T, o *objects, secrets map[string]map[string]bool) {
	if len(o.other) > 0 {
		t.Errorf("objects of kinds the test does not check: %v", o.other)
	}
	// Secrets are referenced, never inlined.
	for _, s := range o.secrets {
		t.Errorf("Secret %s is in the manifests; reference it and keep its values out of the repository", s.Name)
	}
	configMaps := map[string]map[string]bool{}
	for _, c := range o.configMaps {
		keys := map[string]bool{}
		for k := range c.Data {
			keys[k] = true
		}
		configMaps[c.Name] = keys
	}

	for _, w := range o.workloads() {
		what := w.kind + " " + w.name
		if w.selector != nil {
			if len(w.selector.MatchLabels) == 0 {
				t.Errorf("%s: selector has no matchLabels", what)
			}
			for k, v := range w.selector.MatchLabels {
				if w.pod.Labels[k] != v {
					t.Errorf("%s: selector %s=%s does not match its pod labels %v", what, k, v, w.pod.Labels)
				}
			}
		}
		checkPod(t, what, w.pod, secrets, configMaps)
	}
	deploymentNames := map[string]bool{}
	for _, d := range o.deployments {
		deploymentNames[d.Name] = true
		if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
			t.Errorf("Deployment %s: fewer than 2 replicas", d.Name)
		}
	}

	for _, s := range o.services {
		ws := o.matching(t, &metav1.LabelSelector{MatchLabels: s.Spec.Selector})
		if len(s.Spec.Selector) == 0 || len(ws) == 0 {
			t.Errorf("Service %s: selector %v selects no pods", s.Name, s.Spec.Selector)
			continue
		}
		for _, p := range s.Spec.Ports {
			for _, w := range ws {
				if !servesPort(w.pod, p.TargetPort) {
					t.Errorf("Service %s port %s: target %s is not a container port of %s %s", s.Name, p.Name, p.TargetPort.String(), w.kind, w.name)
				}
			}
		}
		if _, ok := binaries[s.Name]; ok && s.Name != "gateway" && s.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("Service %s: not headless; clients balance over its pods' addresses", s.Name)
		}
	}
	for _, p := range o.pdbs {
		if len(o.matching(t, p.Spec.Selector)) == 0 {
			t.Errorf("PodDisruptionBudget %s selects no pods", p.Name)
		}
	}
	hpaTargets := map[string]bool{}
	for _, h := range o.hpas {
		ref := h.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || !deploymentNames[ref.Name] {
			t.Errorf("HorizontalPodAutoscaler %s scales %s %s, which is not a Deployment here", h.Name, ref.Kind, ref.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 {
			t.Errorf("HorizontalPodAutoscaler %s: minReplicas below 2", h.Name)
		}
		hpaTargets[ref.Name] = true
	}
	for name := range binaries {
		if !deploymentNames[name] {
			t.Errorf("no Deployment %s", name)
		}
		if !hpaTargets[name] {
			t.Errorf("no HorizontalPodAutoscaler for %s", name)
		}
	}
	checkNetworkPolicies(t, o)
}

// checkPod checks one pod template: security, resources, the env and
// ports of the platform's binaries, probes, and every Secret and ConfigMap
// it references.
func checkPod(t *testing.T, what string, pod *corev1.PodTemplateSpec, secrets, configMaps map[string]map[string]bool) {
	spec := pod.Spec
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken is not false", what)
	}
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("%s: pod securityContext.runAsNonRoot is not true", what)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod seccompProfile is not RuntimeDefault", what)
	}
	ref := func(kind, name, key string, known map[string]map[string]bool) {
		keys, ok := known[name]
		switch {
		case !ok:
			t.Errorf("%s: %s %s is referenced but not in the examples", what, kind, name)
		case key != "" && !keys[key]:
			t.Errorf("%s: %s %s has no key %s in the examples", what, kind, name, key)
		}
	}
	for _, v := range spec.Volumes {
		// A Secret's files are root's unless the pod has an fsGroup; a
		// non-root container reads them through that group.
		if s := v.Secret; s != nil && (psc == nil || psc.FSGroup == nil || s.DefaultMode == nil || *s.DefaultMode&0o040 == 0) {
			t.Errorf("%s: Secret volume %s is unreadable to a non-root user without fsGroup and a group-readable defaultMode", what, v.Name)
		}
		if s := v.Secret; s != nil {
			ref("Secret", s.SecretName, "", secrets)
			for _, it := range s.Items {
				ref("Secret", s.SecretName, it.Key, secrets)
			}
		}
		if c := v.ConfigMap; c != nil {
			ref("ConfigMap", c.Name, "", configMaps)
			for _, it := range c.Items {
				ref("ConfigMap", c.Name, it.Key, configMaps)
			}
		}
	}
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		cw := what + " container " + c.Name
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s: no securityContext", cw)
		default:
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation is not false", cw)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: readOnlyRootFilesystem is not true", cw)
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("%s: capabilities do not drop ALL", cw)
			}
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[r]; !ok {
				t.Errorf("%s: no %s request", cw, r)
			}
			if _, ok := c.Resources.Limits[r]; !ok {
				t.Errorf("%s: no %s limit", cw, r)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if s := e.ValueFrom.SecretKeyRef; s != nil {
				ref("Secret", s.Name, s.Key, secrets)
			}
			if m := e.ValueFrom.ConfigMapKeyRef; m != nil {
				ref("ConfigMap", m.Name, m.Key, configMaps)
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				ref("Secret", e.SecretRef.Name, "", secrets)
			}
			if e.ConfigMapRef != nil {
				ref("ConfigMap", e.ConfigMapRef.Name, "", configMaps)
			}
		}
		for _, p := range []*corev1.Probe{c.StartupProbe, c.ReadinessProbe, c.LivenessProbe} {
			if p == nil {
				continue
			}
			switch {
			case p.GRPC != nil:
				if !hasPort(c, intstr.FromInt32(p.GRPC.Port)) {
					t.Errorf("%s: gRPC probe on port %d, which the container does not serve", cw, p.GRPC.Port)
				}
			case p.HTTPGet != nil:
				if !hasPort(c, p.HTTPGet.Port) {
					t.Errorf("%s: HTTP probe on port %s, which the container does not serve", cw, p.HTTPGet.Port.String())
				}
			case p.TCPSocket != nil:
				if !hasPort(c, p.TCPSocket.Port) {
					t.Errorf("%s: TCP probe on port %s, which the container does not serve", cw, p.TCPSocket.Port.String())
				}
			}
		}
		checkBinary(t, cw, c)
	}
}

// checkBinary checks a container running one of the platform's binaries
// against the binary's source: it sets only variables the binary reads,
// each listen address it sets is a container port and every container port
// is one of them, and its probes ask for the service it serves.
func checkBinary(t *testing.T, cw string, c corev1.Container) {
	image := c.Image
	if i := strings.LastIndexAny(image, ":@"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	bin, ok := binaries[image[strings.LastIndex(image, "/")+1:]]
	if !ok {
		return
	}
	reads, err := envscan.Vars(bin.dir, "../../pkg/envcfg")
	if err != nil {
		t.Fatal(err)
	}
	listens := map[int32]string{}
	for _, e := range c.Env {
		runtime := strings.HasPrefix(e.Name, "GO") || strings.HasPrefix(e.Name, "OTEL_")
		if _, ok := reads[e.Name]; !ok && !runtime {
			t.Errorf("%s: sets %s, which %s does not read", cw, e.Name, bin.dir)
		}
		if strings.HasSuffix(e.Name, "_ADDR") && strings.HasPrefix(e.Value, ":") {
			port, err := strconv.ParseInt(e.Value[1:], 10, 32)
			if err != nil {
				t.Errorf("%s: %s=%q is not :port", cw, e.Name, e.Value)
				continue
			}
			listens[int32(port)] = e.Name
			if !hasPort(c, intstr.FromInt32(int32(port))) {
				t.Errorf("%s: %s=%s but no container port %d", cw, e.Name, e.Value, port)
			}
		}
	}
	for _, p := range c.Ports {
		if _, ok := listens[p.ContainerPort]; !ok {
			t.Errorf("%s: container port %d (%s) is not where a *_ADDR it sets makes it listen", cw, p.ContainerPort, p.Name)
		}
	}
	for _, p := range []*corev1.Probe{c.StartupProbe, c.ReadinessProbe, c.LivenessProbe} {
		if p != nil && p.GRPC != nil {
			want := bin.service
			if p == c.LivenessProbe {
				want = "liveness" // grpcserver.LivenessService: the process, not the database
			}
			if got := ptrString(p.GRPC.Service); got != want {
				t.Errorf("%s: gRPC probe asks for service %q, want %q", cw, got, want)
			}
			if listens[p.GRPC.Port] != "GRPC_ADDR" {
				t.Errorf("%s: gRPC probe on port %d, which is not GRPC_ADDR's", cw, p.GRPC.Port)
			}
		}
	}
	if bin.service != "" && len(c.Args) > 0 && c.Args[0] == "serve" {
		if c.ReadinessProbe == nil || c.ReadinessProbe.GRPC == nil {
			t.Errorf("%s: readiness is not a native gRPC probe", cw)
		}
		if c.LivenessProbe == nil || c.LivenessProbe.GRPC == nil {
			t.Errorf("%s: liveness is not a native gRPC probe", cw)
		}
	}
}

func ptrString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// hasPort reports whether c has a container port of that number or name.
func hasPort(c corev1.Container, port intstr.IntOrString) bool {
	for _, p := range c.Ports {
		if (port.Type == intstr.Int && p.ContainerPort == port.IntVal) || (port.Type == intstr.String && p.Name == port.StrVal) {
			return true
		}
	}
	return false
}

func servesPort(pod *corev1.PodTemplateSpec, port intstr.IntOrString) bool {
	for _, c := range pod.Spec.Containers {
		if hasPort(c, port) {
			return true
		}
	}
	return false
}

// checkNetworkPolicies checks that every policy and peer selects pods that
// exist, that ingress ports are ports those pods serve, and that only the
// gateway takes traffic from outside the namespace (besides Prometheus'
// scrapes of the admin ports).
func checkNetworkPolicies(t *testing.T, o *objects) {
	denyAll := false
	for _, p := range o.policies {
		if len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.PodSelector.MatchExpressions) == 0 {
			if p.Name == "default-deny" && len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0 && len(p.Spec.PolicyTypes) == 2 {
				denyAll = true
			}
			continue
		}
		selected := o.matching(t, &p.Spec.PodSelector)
		if len(selected) == 0 {
			t.Errorf("NetworkPolicy %s selects no pods", p.Name)
		}
		for _, rule := range p.Spec.Ingress {
			for _, port := range rule.Ports {
				served := false
				for _, w := range selected {
					served = served || servesPort(w.pod, *port.Port)
				}
				if !served {
					t.Errorf("NetworkPolicy %s admits port %s, which none of its pods serves", p.Name, port.Port.String())
				}
			}
			if len(rule.From) == 0 {
				for _, w := range selected {
					if w.name != "gateway" {
						t.Errorf("NetworkPolicy %s admits anyone to %s %s; only the gateway is public", p.Name, w.kind, w.name)
					}
				}
			}
			for _, peer := range rule.From {
				if peer.PodSelector != nil && peer.NamespaceSelector == nil && len(o.matching(t, peer.PodSelector)) == 0 {
					t.Errorf("NetworkPolicy %s: ingress peer %v selects no pods", p.Name, peer.PodSelector.MatchLabels)
				}
			}
		}
		for _, rule := range p.Spec.Egress {
			for _, peer := range rule.To {
				if peer.PodSelector == nil || peer.NamespaceSelector != nil {
					continue
				}
				peers := o.matching(t, peer.PodSelector)
				if len(peers) == 0 {
					t.Errorf("NetworkPolicy %s: egress peer %v selects no pods", p.Name, peer.PodSelector.MatchLabels)
				}
				for _, port := range rule.Ports {
					served := false
					for _, w := range peers {
						served = served || servesPort(w.pod, *port.Port)
					}
					if len(peers) > 0 && !served {
						t.Errorf("NetworkPolicy %s: egress to %v on port %s, which they do not serve", p.Name, peer.PodSelector.MatchLabels, port.Port.String())
					}
				}
			}
		}
	}
	if !denyAll {
		t.Error("no default-deny NetworkPolicy for ingress and egress")
	}
	// The gateway does not reach the database: it is no db-client.
	for _, w := range o.workloads() {
		if w.name == "gateway" && w.pod.Labels["todo.example.com/db-client"] != "" {
			t.Error("the gateway's pods are labelled database clients")
		}
	}
}

// build runs kustomize on dir and decodes every object strictly.
func build(t *testing.T, dir string) *objects {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	o, err := decodeAll(out)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return o
}

// exampleSecrets returns the Secrets of an examples file: name → keys.
func exampleSecrets(t *testing.T, path string) map[string]map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	o, err := decodeAll(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]map[string]bool{}
	for _, s := range o.secrets {
		keys := map[string]bool{}
		for k := range s.StringData {
			keys[k] = true
		}
		for k := range s.Data {
			keys[k] = true
		}
		out[s.Name] = keys
	}
	if len(out) == 0 {
		t.Fatalf("%s has no Secrets", path)
	}
	return out
}

// manifestFiles lists the YAML files of deploy/k8s and deploy/backup.
func manifestFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, root := range []string{".", "../backup"} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// decodeAll decodes each document of a multi-document YAML stream into the
// type its apiVersion and kind name, refusing unknown fields.
func decodeAll(data []byte) (*objects, error) {
	o := &objects{}
	for i, doc := range bytes.Split(data, []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		// As the API server decodes: field names case-sensitive, unknown
		// and duplicate fields refused (encoding/json alone would match
		// readOnlyRootFileSystem to readOnlyRootFilesystem).
		strict := func(into any) error {
			j, err := yaml.YAMLToJSONStrict(doc)
			if err == nil {
				var strictErrs []error
				strictErrs, err = kjson.UnmarshalStrict(j, into)
				err = errors.Join(append([]error{err}, strictErrs...)...)
			}
			if err != nil {
				return fmt.Errorf("document %d (%s %s): %w", i+1, meta.APIVersion, meta.Kind, err)
			}
			return nil
		}
		var err error
		switch meta.APIVersion + " " + meta.Kind {
		case "apps/v1 Deployment":
			v := &appsv1.Deployment{}
			err, o.deployments = strict(v), append(o.deployments, v)
		case "apps/v1 StatefulSet":
			v := &appsv1.StatefulSet{}
			err, o.statefulSets = strict(v), append(o.statefulSets, v)
		case "batch/v1 Job":
			v := &batchv1.Job{}
			err, o.jobs = strict(v), append(o.jobs, v)
		case "batch/v1 CronJob":
			v := &batchv1.CronJob{}
			err, o.cronJobs = strict(v), append(o.cronJobs, v)
		case "v1 Service":
			v := &corev1.Service{}
			err, o.services = strict(v), append(o.services, v)
		case "policy/v1 PodDisruptionBudget":
			v := &policyv1.PodDisruptionBudget{}
			err, o.pdbs = strict(v), append(o.pdbs, v)
		case "autoscaling/v2 HorizontalPodAutoscaler":
			v := &autoscalingv2.HorizontalPodAutoscaler{}
			err, o.hpas = strict(v), append(o.hpas, v)
		case "networking.k8s.io/v1 NetworkPolicy":
			v := &networkingv1.NetworkPolicy{}
			err, o.policies = strict(v), append(o.policies, v)
		case "v1 ConfigMap":
			v := &corev1.ConfigMap{}
			err, o.configMaps = strict(v), append(o.configMaps, v)
		case "v1 Secret":
			v := &corev1.Secret{}
			err, o.secrets = strict(v), append(o.secrets, v)
		case "v1 Namespace":
			err = strict(&corev1.Namespace{})
		case "v1 ServiceAccount":
			err = strict(&corev1.ServiceAccount{})
		case "v1 PersistentVolumeClaim":
			err = strict(&corev1.PersistentVolumeClaim{})
		case "kustomize.config.k8s.io/v1beta1 Kustomization":
			err = strict(&kustypes.Kustomization{})
		default:
			o.other = append(o.other, meta.APIVersion+" "+meta.Kind)
			err = fmt.Errorf("document %d: unknown kind %q %q", i+1, meta.APIVersion, meta.Kind)
		}
		if err != nil {
			return nil, err
		}
	}
	return o, nil
}

// stripComments drops comment-only lines, so a document of comments alone
// counts as empty.
func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}
