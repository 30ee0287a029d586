// protoschema writes the Kubernetes protobuf wire schema of the kinds the kit's API stand-in serves, as
// JSON, for the stand-in to decode request bodies that client-go sends as protobuf (client-go 0.33+
// typed clients prefer application/vnd.kubernetes.protobuf for built-in kinds).
//
// It walks the Go types of k8s.io/api by reflection and reads their struct tags: the protobuf tag gives
// the field number, the json tag the JSON name and omitempty/inline. Output:
//
//	{"roots": {"<apiVersion>/<Kind>": "<type>"}, "types": {"<type>": [[number, name, kind, flags], ...]}}
//
// kind: string, bytes, bool, int, double, time, microtime, duration, quantity, intorstring, raw,
// or "<type>" for a message; flags: "p" pointer, "o" omitempty, "i" inline, "l" list, "m" map (value kind).
//
// Run from tests/clientgo: go run ./protoschema > ../../environments/local/kubeapi/protoschema.json
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var roots = map[string]any{
	"v1/Namespace": corev1.Namespace{}, "v1/Node": corev1.Node{}, "v1/Pod": corev1.Pod{},
	"v1/Service": corev1.Service{}, "v1/PersistentVolumeClaim": corev1.PersistentVolumeClaim{},
	"v1/Event": corev1.Event{}, "v1/ConfigMap": corev1.ConfigMap{}, "v1/Secret": corev1.Secret{},
	"v1/ServiceAccount": corev1.ServiceAccount{}, "apps/v1/Deployment": appsv1.Deployment{},
	"coordination.k8s.io/v1/Lease": coordinationv1.Lease{}, "events.k8s.io/v1/Event": eventsv1.Event{},
	"autoscaling/v1/Scale": autoscalingv1.Scale{}, "v1/DeleteOptions": metav1.DeleteOptions{},
	"meta.k8s.io/v1/DeleteOptions": metav1.DeleteOptions{},
}

var special = map[reflect.Type]string{
	reflect.TypeOf(metav1.Time{}): "time", reflect.TypeOf(metav1.MicroTime{}): "microtime",
	reflect.TypeOf(metav1.Duration{}): "duration", reflect.TypeOf(resource.Quantity{}): "quantity",
	reflect.TypeOf(intstr.IntOrString{}): "intorstring", reflect.TypeOf(runtime.RawExtension{}): "raw",
	reflect.TypeOf(metav1.FieldsV1{}): "raw",
}

var types = map[string][][]any{}

func name(t reflect.Type) string {
	parts := strings.Split(t.PkgPath(), "/")
	if len(parts) >= 2 {
		return parts[len(parts)-2] + "/" + parts[len(parts)-1] + "." + t.Name()
	}
	return t.PkgPath() + "." + t.Name()
}

// kindOf names the wire kind of t (a scalar kind, a special kind, or a message type it registers).
func kindOf(t reflect.Type) string {
	if k, ok := special[t]; ok {
		return k
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "double"
	case reflect.Struct:
		walk(t)
		return name(t)
	}
	panic(fmt.Sprintf("unsupported type %v", t))
}

func walk(t reflect.Type) {
	key := name(t)
	if _, done := types[key]; done {
		return
	}
	types[key] = nil // mark before recursing
	var fields [][]any
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("protobuf")
		if !ok {
			continue
		}
		parts := strings.Split(tag, ",")
		number, err := strconv.Atoi(parts[1])
		if err != nil {
			panic(err)
		}
		jsonTag := strings.Split(f.Tag.Get("json"), ",")
		flags := ""
		for _, opt := range jsonTag[1:] {
			switch opt {
			case "omitempty":
				flags += "o"
			case "inline":
				flags += "i"
			}
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			flags += "p"
			ft = ft.Elem()
		}
		var kind string
		switch {
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Uint8:
			kind = "bytes"
		case ft.Kind() == reflect.Slice:
			flags += "l"
			kind = elemKind(ft.Elem())
		case ft.Kind() == reflect.Map:
			flags += "m"
			kind = elemKind(ft.Elem())
		default:
			kind = kindOf(ft)
		}
		fields = append(fields, []any{number, jsonTag[0], kind, flags})
	}
	sort.Slice(fields, func(a, b int) bool { return fields[a][0].(int) < fields[b][0].(int) })
	types[key] = fields
}

func elemKind(t reflect.Type) string {
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
		return "bytes"
	}
	if t.Kind() == reflect.Slice { // [][]string-like: a message holding a repeated field in protobuf
		panic(fmt.Sprintf("nested list %v", t))
	}
	return kindOf(t)
}

func main() {
	out := map[string]any{"roots": map[string]string{}, "types": types}
	for root, value := range roots {
		t := reflect.TypeOf(value)
		walk(t)
		out["roots"].(map[string]string)[root] = name(t)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
}
