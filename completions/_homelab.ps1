
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'homelab' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'homelab'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'homelab' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The homelab repository (where homelab.yaml lives)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colors (also: the NO_COLOR environment variable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Create homelab.yaml (wizard or --config) and render, commit, push and bootstrap the repository')
            [CompletionResult]::new('render', 'render', [CompletionResultType]::ParameterValue, 'Re-render the repository from homelab.yaml, keeping your own edits')
            [CompletionResult]::new('add-app', 'add-app', [CompletionResultType]::ParameterValue, 'Add an app from the catalog')
            [CompletionResult]::new('remove-app', 'remove-app', [CompletionResultType]::ParameterValue, 'Remove an installed app')
            [CompletionResult]::new('apps', 'apps', [CompletionResultType]::ParameterValue, 'List the app catalog and what is installed')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check the whole homelab and say how to fix what is wrong')
            [CompletionResult]::new('bootstrap', 'bootstrap', [CompletionResultType]::ParameterValue, 'Apply the Flux bootstrap into the cluster, so Flux takes over from git')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Commit and push the repository to git.url')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show every Flux object of the cluster: Ready, revision, message')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Make Flux apply the pushed commit now and wait until the cluster runs it')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'homelab;init' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read the answers from this homelab.yaml-shaped file instead of asking')
            [CompletionResult]::new('--flux-manifests', '--flux-manifests', [CompletionResultType]::ParameterName, 'Use this Flux install.yaml instead of downloading the release''s (works offline)')
            [CompletionResult]::new('--ssh-key', '--ssh-key', [CompletionResultType]::ParameterName, 'SSH private key to push with (also: HOMELAB_SSH_KEY)')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'An extra known_hosts file to verify the SSH host key against')
            [CompletionResult]::new('--git-timeout', '--git-timeout', [CompletionResultType]::ParameterName, 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 30s; a whole fetch or push may take ten times as long)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use (default: the current context)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'The longest one request to the API server, or the kubeconfig''s credential plugin, may take (default: 30s; 10s for doctor)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for Flux to become ready (e.g. 10m, 90s)')
            [CompletionResult]::new('--deploy-key', '--deploy-key', [CompletionResultType]::ParameterName, 'Use this SSH private key as Flux''s deploy key instead of generating one')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The homelab repository (where homelab.yaml lives)')
            [CompletionResult]::new('--no-push', '--no-push', [CompletionResultType]::ParameterName, 'Do not push after committing')
            [CompletionResult]::new('--no-bootstrap', '--no-bootstrap', [CompletionResultType]::ParameterName, 'Do not apply the Flux bootstrap into the cluster')
            [CompletionResult]::new('--allow-non-empty', '--allow-non-empty', [CompletionResultType]::ParameterName, 'Render into a directory that already holds other files (they are never committed)')
            [CompletionResult]::new('--allow-stale', '--allow-stale', [CompletionResultType]::ParameterName, 'Push even when the rendered files are out of date with homelab.yaml')
            [CompletionResult]::new('--accept-new-host-key', '--accept-new-host-key', [CompletionResultType]::ParameterName, 'Trust and record an SSH host key seen for the first time (without asking)')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Apply and return without waiting for readiness')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Server-side dry run: print what would change, change nothing')
            [CompletionResult]::new('--rotate-keys', '--rotate-keys', [CompletionResultType]::ParameterName, 'Replace the existing Flux git credentials (deploy key) with new ones')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Don''t ask: init needs --config; bootstrap checks the deploy key once instead of asking')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Don''t ask: init needs --config; bootstrap checks the deploy key once instead of asking')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Bootstrap even though k3s''s bundled Traefik or ServiceLB is enabled')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colors (also: the NO_COLOR environment variable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'homelab;render' {
            [CompletionResult]::new('--flux-manifests', '--flux-manifests', [CompletionResultType]::ParameterName, 'Use this Flux install.yaml instead of downloading the release''s (works offline)')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The homelab repository (where homelab.yaml lives)')
            [CompletionResult]::new('--diff', '--diff', [CompletionResultType]::ParameterName, 'Print the changes that would be made and write nothing')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite your edits to generated files (after showing them)')
            [CompletionResult]::new('--merge', '--merge', [CompletionResultType]::ParameterName, 'Leave conflict markers in files whose edits conflict with the new rendering')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colors (also: the NO_COLOR environment variable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'homelab;add-app' {
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Answer a profile question: --set key=value (repeatable)')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Serve the app at this host instead of <app>.<domain>')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Install into this namespace instead of the profile''s default')
            [CompletionResult]::new('--ssh-key', '--ssh-key', [CompletionResultType]::ParameterName, 'SSH private key to push with (also: HOMELAB_SSH_KEY)')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'An extra known_hosts file to verify the SSH host key against')
            [CompletionResult]::new('--git-timeout', '--git-timeout', [CompletionResultType]::ParameterName, 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 30s; a whole fetch or push may take ten times as long)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long --wait waits (e.g. 10m, 90s)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use (default: the current context)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'The longest one request to the API server, or the kubeconfig''s credential plugin, may take (default: 30s; 10s for doctor)')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The homelab repository (where homelab.yaml lives)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Don''t ask: every question takes its default or --set value')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Don''t ask: every question takes its default or --set value')
            [CompletionResult]::new('--no-push', '--no-push', [CompletionResultType]::ParameterName, 'Do not push after committing')
            [CompletionResult]::new('--allow-stale', '--allow-stale', [CompletionResultType]::ParameterName, 'Push even when the rendered files are out of date with homelab.yaml')
            [CompletionResult]::new('--accept-new-host-key', '--accept-new-host-key', [CompletionResultType]::ParameterName, 'Trust and record an SSH host key seen for the first time (without asking)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After pushing, make Flux apply the commit now and wait until every Kustomization and HelmRelease is Ready at it')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colors (also: the NO_COLOR environment variable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'homelab;remove-app' {
            [CompletionResult]::new('--ssh-key', '--ssh-key', [CompletionResultType]::ParameterName, 'SSH private key to push with (also: HOMELAB_SSH_KEY)')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'An extra known_hosts file to verify the SSH host key against')
            [CompletionResult]::new('--git-timeout', '--git-timeout', [CompletionResultType]::ParameterName, 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 30s; a whole fetch or push may take ten times as long)')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The homelab repository (where homelab.yaml lives)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Don''t ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Don''t ask for confirmation')
            [CompletionResult]::new('--no-push', '--no-push', [CompletionResultType]::ParameterName, 'Do not push after committing')
            [CompletionResult]::new('--allow-stale', '--allow-stale', [CompletionResultType]::ParameterName, 'Push even when the rendered files are out of date with homelab.yaml')
            [CompletionResult]::new('--accept-new-host-key', '--accept-new-host-key', [CompletionResultType]::ParameterName, 'Trust and record an SSH host key seen for the first time (without asking)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colors (also: the NO_COLOR environment variable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'homelab;apps' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The homelab repository (where homelab.yaml lives)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colors (also: the NO_COLOR environment variable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'homelab;doctor' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use (default: the current context)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'The longest one request to the API server, or the kubeconfig''s credential plugin, may take (default: 30s; 10s for doctor)')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'An extra known_hosts file to verify the git server''s SSH host key against')
            [CompletionResult]::new('--git-timeout', '--git-timeout', [CompletionResultType]::ParameterName, 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 10s)')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The homelab repository (where homelab.yaml lives)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colors (also: the NO_COLOR environment variable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'homelab;bootstrap' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use (default: the current context)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'The longest one request to the API server, or the kubeconfig''s credential plugin, may take (default: 30s; 10s for doctor)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for Flux to become ready (e.g. 10m, 90s)')
            [CompletionResult]::new('--deploy-key', '--deploy-key', [CompletionResultType]::ParameterName, 'Use this SSH private key as Flux''s deploy key instead of generating one')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'An extra known_hosts file to verify the SSH host key against')
            [CompletionResult]::new('--git-timeout', '--git-timeout', [CompletionResultType]::ParameterName, 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 30s; a whole fetch or push may take ten times as long)')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The homelab repository (where homelab.yaml lives)')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Apply and return without waiting for readiness')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Server-side dry run: print what would change, change nothing')
            [CompletionResult]::new('--rotate-keys', '--rotate-keys', [CompletionResultType]::ParameterName, 'Replace the existing Flux git credentials (deploy key) with new ones')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Don''t ask: init needs --config; bootstrap checks the deploy key once instead of asking')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Don''t ask: init needs --config; bootstrap checks the deploy key once instead of asking')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Bootstrap even though k3s''s bundled Traefik or ServiceLB is enabled')
            [CompletionResult]::new('--accept-new-host-key', '--accept-new-host-key', [CompletionResultType]::ParameterName, 'Trust and record an SSH host key seen for the first time (without asking)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colors (also: the NO_COLOR environment variable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'homelab;push' {
            [CompletionResult]::new('--ssh-key', '--ssh-key', [CompletionResultType]::ParameterName, 'SSH private key to push with (also: HOMELAB_SSH_KEY)')
            [CompletionResult]::new('--known-hosts', '--known-hosts', [CompletionResultType]::ParameterName, 'An extra known_hosts file to verify the SSH host key against')
            [CompletionResult]::new('--git-timeout', '--git-timeout', [CompletionResultType]::ParameterName, 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 30s; a whole fetch or push may take ten times as long)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long --wait waits (e.g. 10m, 90s)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use (default: the current context)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'The longest one request to the API server, or the kubeconfig''s credential plugin, may take (default: 30s; 10s for doctor)')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The homelab repository (where homelab.yaml lives)')
            [CompletionResult]::new('--allow-stale', '--allow-stale', [CompletionResultType]::ParameterName, 'Push even when the rendered files are out of date with homelab.yaml')
            [CompletionResult]::new('--accept-new-host-key', '--accept-new-host-key', [CompletionResultType]::ParameterName, 'Trust and record an SSH host key seen for the first time (without asking)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'After pushing, make Flux apply the commit now and wait until every Kustomization and HelmRelease is Ready at it')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colors (also: the NO_COLOR environment variable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'homelab;status' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use (default: the current context)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'The longest one request to the API server, or the kubeconfig''s credential plugin, may take (default: 30s; 10s for doctor)')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The homelab repository (where homelab.yaml lives)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colors (also: the NO_COLOR environment variable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'homelab;sync' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for Flux to run the commit (e.g. 10m, 90s)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use (default: the current context)')
            [CompletionResult]::new('--request-timeout', '--request-timeout', [CompletionResultType]::ParameterName, 'The longest one request to the API server, or the kubeconfig''s credential plugin, may take (default: 30s; 10s for doctor)')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The homelab repository (where homelab.yaml lives)')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Ask Flux to reconcile and return without waiting')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colors (also: the NO_COLOR environment variable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'homelab;completions' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'The homelab repository (where homelab.yaml lives)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v for details, -vv for debugging')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'Disable colors (also: the NO_COLOR environment variable)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'homelab;help' {
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Create homelab.yaml (wizard or --config) and render, commit, push and bootstrap the repository')
            [CompletionResult]::new('render', 'render', [CompletionResultType]::ParameterValue, 'Re-render the repository from homelab.yaml, keeping your own edits')
            [CompletionResult]::new('add-app', 'add-app', [CompletionResultType]::ParameterValue, 'Add an app from the catalog')
            [CompletionResult]::new('remove-app', 'remove-app', [CompletionResultType]::ParameterValue, 'Remove an installed app')
            [CompletionResult]::new('apps', 'apps', [CompletionResultType]::ParameterValue, 'List the app catalog and what is installed')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check the whole homelab and say how to fix what is wrong')
            [CompletionResult]::new('bootstrap', 'bootstrap', [CompletionResultType]::ParameterValue, 'Apply the Flux bootstrap into the cluster, so Flux takes over from git')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Commit and push the repository to git.url')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show every Flux object of the cluster: Ready, revision, message')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Make Flux apply the pushed commit now and wait until the cluster runs it')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'homelab;help;init' {
            break
        }
        'homelab;help;render' {
            break
        }
        'homelab;help;add-app' {
            break
        }
        'homelab;help;remove-app' {
            break
        }
        'homelab;help;apps' {
            break
        }
        'homelab;help;doctor' {
            break
        }
        'homelab;help;bootstrap' {
            break
        }
        'homelab;help;push' {
            break
        }
        'homelab;help;status' {
            break
        }
        'homelab;help;sync' {
            break
        }
        'homelab;help;completions' {
            break
        }
        'homelab;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
