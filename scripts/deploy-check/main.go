// SPDX-License-Identifier: Apache-2.0

// deploy-check validates the files under deploy/ with the libraries the real tools use, where
// those tools (a Docker engine, an API server, promtool) are not at hand:
//
//	deploy-check compose FILE      load a compose file as `docker compose config` does (compose-go)
//	deploy-check prometheus FILE   load a Prometheus configuration (Prometheus 2.51's config package)
//	deploy-check rules FILE        parse alerting rules: YAML, PromQL and templates (rulefmt)
//	deploy-check blackbox FILE     load a blackbox exporter configuration
//	deploy-check k8s < YAML        decode Kubernetes objects strictly: unknown fields and wrong types fail
//
// scripts/deploy-check.sh builds it and runs every check. It is not part of the test suite,
// which must run without Go modules.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/go-kit/log"
	bbconfig "github.com/prometheus/blackbox_exporter/config"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/rulefmt"
	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: deploy-check compose|prometheus|rules|blackbox FILE, or deploy-check k8s < YAML"))
	}
	var err error
	switch os.Args[1] {
	case "compose":
		err = checkCompose(arg(2))
	case "prometheus":
		err = checkPrometheus(arg(2))
	case "rules":
		err = checkRules(arg(2))
	case "blackbox":
		err = checkBlackbox(arg(2))
	case "k8s":
		err = checkKubernetes(os.Stdin)
	default:
		err = fmt.Errorf("unknown check %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func arg(i int) string {
	if len(os.Args) <= i {
		fail(fmt.Errorf("%s needs a file", os.Args[1]))
	}
	return os.Args[i]
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "deploy-check:", err)
	os.Exit(1)
}

func checkCompose(path string) error {
	opts, err := cli.NewProjectOptions([]string{path}, cli.WithOsEnv, cli.WithDotEnv)
	if err != nil {
		return err
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		return err
	}
	fmt.Printf("%s: project %s, %d services\n", path, project.Name, len(project.Services))
	return nil
}

func checkPrometheus(path string) error {
	cfg, err := promconfig.LoadFile(path, false, false, log.NewNopLogger())
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d scrape jobs, %d rule files\n", path, len(cfg.ScrapeConfigs), len(cfg.RuleFiles))
	return nil
}

func checkRules(path string) error {
	groups, errs := rulefmt.ParseFile(path)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	n := 0
	for _, g := range groups.Groups {
		n += len(g.Rules)
	}
	fmt.Printf("%s: %d rules\n", path, n)
	return nil
}

func checkBlackbox(path string) error {
	sc := bbconfig.NewSafeConfig(nil)
	if err := sc.ReloadConfig(path, nil); err != nil {
		return err
	}
	fmt.Printf("%s: %d modules\n", path, len(sc.C.Modules))
	return nil
}

func checkKubernetes(in io.Reader) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	decoder := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	strict := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	n := 0
	for {
		var raw map[string]interface{}
		if err := decoder.Decode(&raw); err != nil {
			if err == io.EOF {
				break
			}
			return err
		}
		if raw == nil {
			continue
		}
		doc, err := yaml.Marshal(raw)
		if err != nil {
			return err
		}
		if _, gvk, err := strict.Decode(doc, nil, nil); err != nil {
			return fmt.Errorf("%v: %w", raw["metadata"], err)
		} else {
			fmt.Printf("ok %s %v\n", gvk.Kind, raw["metadata"].(map[string]interface{})["name"])
		}
		n++
	}
	fmt.Printf("%d Kubernetes objects decoded strictly\n", n)
	return nil
}
