// Command cert-manager-webhook serves cert-manager's admission webhook
// (validation, defaulting and conversion of cert-manager resources), built from
// the github.com/cert-manager/cert-manager module at the version pinned in go.mod.
//
// Upstream's own entry point lives in a nested module (cmd/webhook) that is not
// published on the Go module proxy, so this small program wires the same public
// options and the module's webhook server together. The server it reaches is
// internal to cert-manager; Go lets a package import another module's internal
// packages only when its import path sits under that module's path, which is why
// this module's path starts with github.com/cert-manager/cert-manager/.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/pflag"
	ctrl "sigs.k8s.io/controller-runtime"

	config "github.com/cert-manager/cert-manager/internal/apis/config/webhook"
	"github.com/cert-manager/cert-manager/internal/apis/config/webhook/validation"
	cmwebhook "github.com/cert-manager/cert-manager/internal/webhook"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
	"github.com/cert-manager/cert-manager/pkg/util/configfile"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"
	webhookconfigfile "github.com/cert-manager/cert-manager/pkg/webhook/configfile"
	"github.com/cert-manager/cert-manager/pkg/webhook/options"
)

func main() {
	logf.InitLogs()
	ctrl.SetLogger(logf.Log)
	err := run(os.Args[1:])
	logf.FlushLogs()
	if errors.Is(err, pflag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cert-manager-webhook: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cfg, err := options.NewWebhookConfiguration()
	if err != nil {
		return err
	}
	webhookFlags := options.NewWebhookFlags()
	fs := pflag.NewFlagSet("cert-manager-webhook", pflag.ContinueOnError)
	webhookFlags.AddFlags(fs)
	options.AddConfigFlags(fs, cfg)
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version {
		fmt.Println(util.VersionInfo().GitVersion)
		return nil
	}
	if webhookFlags.Config != "" {
		// Flags given on the command line win over the file, as upstream does.
		if err := loadConfigFile(webhookFlags.Config, cfg); err != nil {
			return err
		}
		if err := fs.Parse(args); err != nil {
			return err
		}
	}
	if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(cfg.FeatureGates); err != nil {
		return fmt.Errorf("feature gates: %w", err)
	}
	if errs := validation.ValidateWebhookConfiguration(cfg, nil); len(errs) > 0 {
		return fmt.Errorf("invalid flags: %w", errs.ToAggregate())
	}
	if err := logf.ValidateAndApply(&cfg.Logging); err != nil {
		return fmt.Errorf("logging flags: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := logf.Log.WithName("webhook")
	log.Info("starting cert-manager webhook", "version", util.VersionInfo().GitVersion)
	srv, err := cmwebhook.NewCertManagerWebhookServer(log, *cfg)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

func loadConfigFile(path string, cfg *config.WebhookConfiguration) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	loader, err := configfile.NewConfigurationFSLoader(nil, abs)
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	file := webhookconfigfile.New()
	if err := loader.Load(file); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	file.Config.DeepCopyInto(cfg)
	return nil
}
