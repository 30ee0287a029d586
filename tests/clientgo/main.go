// clientgo-check drives a Kubernetes API server with client-go as StreamSpace's programs do: discovery
// (aggregated), OpenAPI, a Deployment through the typed client (create, get, update, conflict,
// strategic merge patch checked against client-go's own merge, scale, status, delete), a custom
// resource through the dynamic client, informers, Lease leader election with three candidates, and an
// SPDY port-forward to a pod whose status.podIP the caller serves a TCP echo on.
//
// Usage: clientgo-check (-server URL | -kubeconfig FILE) -namespace NS -pod-ip IP -echo-port PORT
// (-kubeconfig points it at any cluster, e.g. a real kube-apiserver, to check the check itself).
// Prints "ok <step> (<duration>)" per step; exits 1 with "FAIL <step>: <why>" on the first failure.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

var sessions = schema.GroupVersionResource{Group: "stream.space", Version: "v1alpha1", Resource: "sessions"}

type check struct {
	ctx       context.Context
	cfg       *rest.Config
	cs        *kubernetes.Clientset
	dyn       dynamic.Interface
	ns        string
	podIP     string
	echoPort  int
	stepStart time.Time
}

func fail(step string, format string, args ...any) {
	fmt.Printf("FAIL %s: %s\n", step, fmt.Sprintf(format, args...))
	os.Exit(1)
}

func must(step string, err error) {
	if err != nil {
		fail(step, "%v", err)
	}
}

func (c *check) done(step string) {
	fmt.Printf("ok %s (%s)\n", step, time.Since(c.stepStart).Round(time.Millisecond))
	c.stepStart = time.Now()
}

func main() {
	server := flag.String("server", "", "API server URL")
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file (instead of -server)")
	ns := flag.String("namespace", "clientgo-check", "namespace to create and use")
	podIP := flag.String("pod-ip", "127.0.0.1", "address of the TCP echo the pod stands for")
	echoPort := flag.Int("echo-port", 0, "port of that TCP echo")
	flag.Parse()
	cfg := &rest.Config{Host: *server}
	if *kubeconfig != "" {
		loaded, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
		must("kubeconfig", err)
		cfg = loaded
	}
	cfg.QPS, cfg.Burst, cfg.Timeout = 100, 200, 20*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := &check{ctx: ctx, cfg: cfg, ns: *ns, podIP: *podIP, echoPort: *echoPort, stepStart: time.Now()}
	var err error
	c.cs, err = kubernetes.NewForConfig(cfg)
	must("client", err)
	c.dyn, err = dynamic.NewForConfig(cfg)
	must("client", err)

	c.discovery()
	_, err = c.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: c.ns}},
		metav1.CreateOptions{})
	must("namespace", err)
	c.done("namespace")
	c.deployment()
	c.customResource()
	c.informers()
	c.leaderElection()
	c.portForward()
	must("cleanup", c.cs.CoreV1().Namespaces().Delete(ctx, c.ns, metav1.DeleteOptions{}))
	fmt.Println("PASS")
}

func (c *check) discovery() {
	dc := c.cs.Discovery()
	version, err := dc.ServerVersion()
	must("discovery", err)
	_, lists, err := dc.ServerGroupsAndResources()
	must("discovery", err)
	want := map[string]string{"apps/v1": "deployments", "stream.space/v1alpha1": "sessions",
		"coordination.k8s.io/v1": "leases", "v1": "pods/portforward"}
	for _, list := range lists {
		for _, res := range list.APIResources {
			if want[list.GroupVersion] == res.Name {
				delete(want, list.GroupVersion)
			}
		}
	}
	if len(want) > 0 {
		fail("discovery", "missing from discovery: %v", want)
	}
	doc, err := dc.OpenAPISchema() // protobuf, as kubectl reads it
	must("openapi-v2", err)
	if doc.GetSwagger() != "2.0" || len(doc.GetPaths().GetPath()) == 0 {
		fail("openapi-v2", "unexpected document: swagger %q, %d paths", doc.GetSwagger(), len(doc.GetPaths().GetPath()))
	}
	paths, err := dc.OpenAPIV3().Paths()
	must("openapi-v3", err)
	gv, ok := paths["apis/apps/v1"]
	if !ok {
		fail("openapi-v3", "no apis/apps/v1 in %v", paths)
	}
	_, err = gv.Schema("application/json")
	must("openapi-v3", err)
	c.done("discovery " + version.GitVersion)
}

func container(name, image string, port int32) corev1.Container {
	return corev1.Container{Name: name, Image: image, Command: []string{"run-" + name},
		Ports: []corev1.ContainerPort{{Name: "vnc", ContainerPort: port, Protocol: corev1.ProtocolTCP}},
		Env:   []corev1.EnvVar{{Name: "SESSION_ID", Value: "s1"}, {Name: "TZ", Value: "UTC"}}}
}

func (c *check) deployment() {
	const step = "deployment"
	deployments := c.cs.AppsV1().Deployments(c.ns)
	one := int32(1)
	labels := map[string]string{"app": "streamspace-session", "session": "s1"}
	created, err := deployments.Create(c.ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "s1", Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{container("a", "img-a", 3000),
					container("b", "img-b", 5900)}}}},
	}, metav1.CreateOptions{})
	must(step, err)
	got, err := deployments.Get(c.ctx, "s1", metav1.GetOptions{})
	must(step, err)
	if got.UID != created.UID || len(got.Spec.Template.Spec.Containers) != 2 {
		fail(step, "get answered another object: %+v", got.ObjectMeta)
	}
	zero := int32(0)
	got.Spec.Replicas = &zero
	updated, err := deployments.Update(c.ctx, got, metav1.UpdateOptions{})
	must(step, err)
	if _, err = deployments.Update(c.ctx, got, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		fail(step, "an update with a stale resourceVersion answered %v, want a conflict", err)
	}
	// a strategic merge patch as kubectl apply sends it: the server must merge as client-go would
	patch := []byte(`{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}],` +
		`"containers":[{"name":"a","image":"img-a2","env":[{"name":"EXTRA","value":"1"}],` +
		`"ports":[{"containerPort":3000,"$patch":"delete"},{"containerPort":3001,"name":"vnc2"}]}]}}}}`)
	before, _ := json.Marshal(updated)
	wantJSON, err := strategicpatch.StrategicMergePatch(before, patch, appsv1.Deployment{})
	must(step, err)
	var want appsv1.Deployment
	must(step, json.Unmarshal(wantJSON, &want))
	patched, err := deployments.Patch(c.ctx, "s1", types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	must(step, err)
	if got, wanted := merged(patched), merged(&want); got != wanted { // what the merge decides, not defaults
		fail(step, "strategic merge differs from client-go's:\n server %s\n client %s", got, wanted)
	}
	scale, err := deployments.GetScale(c.ctx, "s1", metav1.GetOptions{})
	must(step, err)
	scale.Spec.Replicas = 1
	_, err = deployments.UpdateScale(c.ctx, "s1", scale, metav1.UpdateOptions{})
	must(step, err)
	patched.Status.Replicas, patched.Status.ReadyReplicas = 1, 1
	patched.ResourceVersion = ""
	_, err = deployments.UpdateStatus(c.ctx, patched, metav1.UpdateOptions{})
	must(step, err)
	final, err := deployments.Get(c.ctx, "s1", metav1.GetOptions{})
	must(step, err)
	if *final.Spec.Replicas != 1 || final.Status.ReadyReplicas != 1 {
		fail(step, "scale or status lost: replicas %d, ready %d", *final.Spec.Replicas, final.Status.ReadyReplicas)
	}
	foreground := metav1.DeletePropagationForeground
	must(step, deployments.Delete(c.ctx, "s1", metav1.DeleteOptions{PropagationPolicy: &foreground}))
	// gone, or (a real cluster without its garbage collector running) marked for foreground deletion
	if gone, err := deployments.Get(c.ctx, "s1", metav1.GetOptions{}); !apierrors.IsNotFound(err) &&
		(err != nil || gone.DeletionTimestamp == nil) {
		fail(step, "get after delete answered %v", err)
	}
	c.done(step)
}

// merged is what a strategic merge decides about containers (order, images, commands, env, ports),
// leaving out what a real API server defaults (protocol, imagePullPolicy...).
func merged(d *appsv1.Deployment) string {
	type port struct {
		Name string
		Port int32
	}
	type decided struct {
		Name, Image string
		Command     []string
		Env         []corev1.EnvVar
		Ports       []port
	}
	var out []decided
	for _, c := range d.Spec.Template.Spec.Containers {
		one := decided{Name: c.Name, Image: c.Image, Command: c.Command, Env: c.Env}
		for _, p := range c.Ports {
			one.Ports = append(one.Ports, port{p.Name, p.ContainerPort})
		}
		out = append(out, one)
	}
	text, _ := json.Marshal(out)
	return string(text)
}

func (c *check) customResource() {
	const step = "custom-resource"
	res := c.dyn.Resource(sessions).Namespace(c.ns)
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "stream.space/v1alpha1", "kind": "Session",
		"metadata": map[string]any{"name": "s1", "labels": map[string]any{"user": "alice"}},
		"spec":     map[string]any{"user": "alice", "template": "firefox", "state": "running"},
		"status":   map[string]any{"phase": "Running"}, // a real API server drops it: status is a subresource
	}}
	created, err := res.Create(c.ctx, obj, metav1.CreateOptions{})
	must(step, err)
	if _, found := created.Object["status"]; found {
		fail(step, "create kept the status of a resource whose status is a subresource")
	}
	must(step, unstructured.SetNestedField(created.Object, "Running", "status", "phase"))
	withStatus, err := res.UpdateStatus(c.ctx, created, metav1.UpdateOptions{})
	must(step, err)
	must(step, unstructured.SetNestedField(withStatus.Object, "hibernated", "spec", "state"))
	_, err = res.Update(c.ctx, withStatus, metav1.UpdateOptions{})
	must(step, err)
	list, err := res.List(c.ctx, metav1.ListOptions{LabelSelector: "user=alice"})
	must(step, err)
	if len(list.Items) != 1 {
		fail(step, "label selector found %d sessions", len(list.Items))
	}
	phase, _, _ := unstructured.NestedString(list.Items[0].Object, "status", "phase")
	state, _, _ := unstructured.NestedString(list.Items[0].Object, "spec", "state")
	if phase != "Running" || state != "hibernated" {
		fail(step, "status %q / spec %q after the updates", phase, state)
	}
	_, err = res.Patch(c.ctx, "s1", types.StrategicMergePatchType, []byte(`{"spec":{"state":"x"}}`), metav1.PatchOptions{})
	if !apierrors.IsUnsupportedMediaType(err) {
		fail(step, "a strategic merge patch on a custom resource answered %v, want 415", err)
	}
	_, err = res.Patch(c.ctx, "s1", types.MergePatchType, []byte(`{"spec":{"state":"running"}}`), metav1.PatchOptions{})
	must(step, err)
	must(step, res.Delete(c.ctx, "s1", metav1.DeleteOptions{}))
	c.done(step)
}

func (c *check) informers() {
	const step = "informers"
	ctx, stop := context.WithCancel(c.ctx)
	defer stop()
	events := make(chan string, 32)
	note := func(what string) func(any) { return func(any) { events <- what } }
	factory := informers.NewSharedInformerFactoryWithOptions(c.cs, 0, informers.WithNamespace(c.ns))
	_, err := factory.Core().V1().ConfigMaps().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: note("cm-add"), UpdateFunc: func(_, _ any) { events <- "cm-update" }, DeleteFunc: note("cm-delete")})
	must(step, err)
	dynFactory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(c.dyn, 0, c.ns, nil)
	_, err = dynFactory.ForResource(sessions).Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: note("session-add"), DeleteFunc: note("session-delete")})
	must(step, err)
	factory.Start(ctx.Done())
	dynFactory.Start(ctx.Done())
	for kind, synced := range factory.WaitForCacheSync(ctx.Done()) {
		if !synced {
			fail(step, "%v never synced", kind)
		}
	}
	dynFactory.WaitForCacheSync(ctx.Done())
	cms := c.cs.CoreV1().ConfigMaps(c.ns)
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c1"}}, metav1.CreateOptions{})
	must(step, err)
	cm.Data = map[string]string{"k": "v"}
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	must(step, err)
	must(step, cms.Delete(ctx, "c1", metav1.DeleteOptions{}))
	_, err = c.dyn.Resource(sessions).Namespace(c.ns).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "stream.space/v1alpha1", "kind": "Session", "metadata": map[string]any{"name": "s2"},
		"spec": map[string]any{"user": "bob", "template": "firefox", "state": "running"}}},
		metav1.CreateOptions{})
	must(step, err)
	must(step, c.dyn.Resource(sessions).Namespace(c.ns).Delete(ctx, "s2", metav1.DeleteOptions{}))
	want := []string{"cm-add", "cm-update", "cm-delete", "session-add", "session-delete"}
	seen := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for len(seen) < len(want) {
		select {
		case e := <-events:
			seen[e] = true
		case <-deadline:
			fail(step, "events seen %v, want %v", seen, want)
		}
	}
	c.done(step)
}

// leaderElection: three candidates on one Lease. Exactly one leads at any time; when the leader stops,
// another takes over: quickly when the leader releases the Lease, after the lease duration when it just
// stops renewing.
func (c *check) leaderElection() {
	const step = "leader-election"
	var leaders, most atomic.Int32
	leading := make(chan string, 8)
	cancels := map[string]context.CancelFunc{}
	releases := map[string]bool{}
	var wg sync.WaitGroup
	start := func(id string, release bool) {
		ctx, cancel := context.WithCancel(c.ctx)
		cancels[id], releases[id] = cancel, release
		lock := &resourcelock.LeaseLock{LeaseMeta: metav1.ObjectMeta{Name: "clientgo-check", Namespace: c.ns},
			Client: c.cs.CoordinationV1(), LockConfig: resourcelock.ResourceLockConfig{Identity: id}}
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond,
			RetryPeriod: 200 * time.Millisecond, ReleaseOnCancel: release, Name: id,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(context.Context) {
					if n := leaders.Add(1); n > most.Load() {
						most.Store(n)
					}
					leading <- id
				},
				OnStoppedLeading: func() { leaders.Add(-1) },
			}})
		must(step, err)
		wg.Add(1)
		go func() { defer wg.Done(); elector.Run(ctx) }()
	}
	next := func(why string) (string, time.Duration) {
		began := time.Now()
		select {
		case id := <-leading:
			return id, time.Since(began)
		case <-time.After(10 * time.Second):
			fail(step, "no leader %s", why)
		}
		return "", 0
	}
	start("releases", true)
	start("just-stops", false)
	first, _ := next("at start")
	time.Sleep(time.Second) // both keep trying: the other must not lead too
	holder := c.holder(step)
	if holder != first || most.Load() != 1 {
		fail(step, "lease holder %q, leader %q, most leaders at once %d", holder, first, most.Load())
	}
	start("third", true)
	cancels[first]()
	second, took := next("after " + first + " stopped")
	fmt.Printf("   %s stopped (release=%v): %s took over after %s\n", first, releases[first], second, took)
	cancels[second]()
	third, took := next("after " + second + " stopped")
	fmt.Printf("   %s stopped (release=%v): %s took over after %s\n", second, releases[second], third, took)
	if most.Load() != 1 || c.holder(step) != third {
		fail(step, "most leaders at once %d, lease holder %q, want %q", most.Load(), c.holder(step), third)
	}
	cancels[third]()
	wg.Wait()
	c.done(step)
}

func (c *check) holder(step string) string {
	lease, err := c.cs.CoordinationV1().Leases(c.ns).Get(c.ctx, "clientgo-check", metav1.GetOptions{})
	must(step, err)
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

func (c *check) portForward() {
	const step = "port-forward"
	pods := c.cs.CoreV1().Pods(c.ns)
	pod, err := pods.Create(c.ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: "echo"}}}}, metav1.CreateOptions{})
	must(step, err)
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: c.podIP}
	_, err = pods.UpdateStatus(c.ctx, pod, metav1.UpdateOptions{})
	must(step, err)
	// exactly as StreamSpace's k8s agent builds its VNC tunnel
	req := c.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(c.ns).Name("echo").SubResource("portforward")
	transport, upgrader, err := spdy.RoundTripperFor(c.cfg)
	must(step, err)
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", req.URL())
	stop, ready := make(chan struct{}), make(chan struct{})
	var out, errOut bytes.Buffer
	closed := c.echoPort + 1 // nothing listens there: the forward reports it and closes the connection
	forwarder, err := portforward.New(dialer, []string{fmt.Sprintf("0:%d", c.echoPort), fmt.Sprintf("0:%d", closed)},
		stop, ready, &out, &errOut)
	must(step, err)
	forwardErr := make(chan error, 1)
	go func() { forwardErr <- forwarder.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-forwardErr:
		fail(step, "ForwardPorts: %v (%s)", err, errOut.String())
	case <-time.After(10 * time.Second):
		fail(step, "the forward never became ready")
	}
	ports, err := forwarder.GetPorts()
	must(step, err)
	var wg sync.WaitGroup
	for i := range 3 { // three connections at once, one of them a megabyte each way
		wg.Add(1)
		go func() {
			defer wg.Done()
			size := 1000
			if i == 0 {
				size = 1 << 20
			}
			echo(step, ports[0].Local, size)
		}()
	}
	wg.Wait()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ports[1].Local), 5*time.Second)
	must(step, err)
	must(step, conn.SetDeadline(time.Now().Add(10*time.Second)))
	if n, err := conn.Read(make([]byte, 16)); err == nil {
		fail(step, "a forward to a closed port read %d bytes", n)
	}
	conn.Close()
	close(stop)
	<-forwardErr
	c.done(step)
}

func echo(step string, port uint16, size int) {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	must(step, err)
	defer conn.Close()
	must(step, conn.SetDeadline(time.Now().Add(30*time.Second)))
	sent := bytes.Repeat([]byte("streamspace-"), size/12+1)[:size]
	go func() { _, _ = conn.Write(sent) }()
	got := make([]byte, size)
	if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, sent) {
		fail(step, "echo of %d bytes through the forward: %v (equal: %v)", size, err, bytes.Equal(got, sent))
	}
}
