
use builtin;
use str;

set edit:completion:arg-completer[homelab] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'homelab'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'homelab'= {
            cand --dir 'The homelab repository (where homelab.yaml lives)'
            cand -v 'More output: -v for details, -vv for debugging'
            cand --verbose 'More output: -v for details, -vv for debugging'
            cand --no-color 'Disable colors (also: the NO_COLOR environment variable)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand init 'Create homelab.yaml (wizard or --config) and render, commit, push and bootstrap the repository'
            cand render 'Re-render the repository from homelab.yaml, keeping your own edits'
            cand add-app 'Add an app from the catalog'
            cand remove-app 'Remove an installed app'
            cand apps 'List the app catalog and what is installed'
            cand doctor 'Check the whole homelab and say how to fix what is wrong'
            cand bootstrap 'Apply the Flux bootstrap into the cluster, so Flux takes over from git'
            cand push 'Commit and push the repository to git.url'
            cand status 'Show every Flux object of the cluster: Ready, revision, message'
            cand sync 'Make Flux apply the pushed commit now and wait until the cluster runs it'
            cand completions 'Print shell completions'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'homelab;init'= {
            cand --config 'Read the answers from this homelab.yaml-shaped file instead of asking'
            cand --flux-manifests 'Use this Flux install.yaml instead of downloading the release''s (works offline)'
            cand --ssh-key 'SSH private key to push with (also: HOMELAB_SSH_KEY)'
            cand --known-hosts 'An extra known_hosts file to verify the SSH host key against'
            cand --git-timeout 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 30s; a whole fetch or push may take ten times as long)'
            cand --kubeconfig 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'The kubeconfig context to use (default: the current context)'
            cand --request-timeout 'The longest one request to the API server, or the kubeconfig''s credential plugin, may take (default: 30s; 10s for doctor)'
            cand --timeout 'How long to wait for Flux to become ready (e.g. 10m, 90s)'
            cand --deploy-key 'Use this SSH private key as Flux''s deploy key instead of generating one'
            cand --dir 'The homelab repository (where homelab.yaml lives)'
            cand --no-push 'Do not push after committing'
            cand --no-bootstrap 'Do not apply the Flux bootstrap into the cluster'
            cand --allow-non-empty 'Render into a directory that already holds other files (they are never committed)'
            cand --allow-stale 'Push even when the rendered files are out of date with homelab.yaml'
            cand --accept-new-host-key 'Trust and record an SSH host key seen for the first time (without asking)'
            cand --no-wait 'Apply and return without waiting for readiness'
            cand --dry-run 'Server-side dry run: print what would change, change nothing'
            cand --rotate-keys 'Replace the existing Flux git credentials (deploy key) with new ones'
            cand -y 'Don''t ask: init needs --config; bootstrap checks the deploy key once instead of asking'
            cand --yes 'Don''t ask: init needs --config; bootstrap checks the deploy key once instead of asking'
            cand --force 'Bootstrap even though k3s''s bundled Traefik or ServiceLB is enabled'
            cand -v 'More output: -v for details, -vv for debugging'
            cand --verbose 'More output: -v for details, -vv for debugging'
            cand --no-color 'Disable colors (also: the NO_COLOR environment variable)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'homelab;render'= {
            cand --flux-manifests 'Use this Flux install.yaml instead of downloading the release''s (works offline)'
            cand --dir 'The homelab repository (where homelab.yaml lives)'
            cand --diff 'Print the changes that would be made and write nothing'
            cand --force 'Overwrite your edits to generated files (after showing them)'
            cand --merge 'Leave conflict markers in files whose edits conflict with the new rendering'
            cand -v 'More output: -v for details, -vv for debugging'
            cand --verbose 'More output: -v for details, -vv for debugging'
            cand --no-color 'Disable colors (also: the NO_COLOR environment variable)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'homelab;add-app'= {
            cand --set 'Answer a profile question: --set key=value (repeatable)'
            cand --host 'Serve the app at this host instead of <app>.<domain>'
            cand --namespace 'Install into this namespace instead of the profile''s default'
            cand --ssh-key 'SSH private key to push with (also: HOMELAB_SSH_KEY)'
            cand --known-hosts 'An extra known_hosts file to verify the SSH host key against'
            cand --git-timeout 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 30s; a whole fetch or push may take ten times as long)'
            cand --timeout 'How long --wait waits (e.g. 10m, 90s)'
            cand --kubeconfig 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'The kubeconfig context to use (default: the current context)'
            cand --request-timeout 'The longest one request to the API server, or the kubeconfig''s credential plugin, may take (default: 30s; 10s for doctor)'
            cand --dir 'The homelab repository (where homelab.yaml lives)'
            cand -y 'Don''t ask: every question takes its default or --set value'
            cand --yes 'Don''t ask: every question takes its default or --set value'
            cand --no-push 'Do not push after committing'
            cand --allow-stale 'Push even when the rendered files are out of date with homelab.yaml'
            cand --accept-new-host-key 'Trust and record an SSH host key seen for the first time (without asking)'
            cand --wait 'After pushing, make Flux apply the commit now and wait until every Kustomization and HelmRelease is Ready at it'
            cand -v 'More output: -v for details, -vv for debugging'
            cand --verbose 'More output: -v for details, -vv for debugging'
            cand --no-color 'Disable colors (also: the NO_COLOR environment variable)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'homelab;remove-app'= {
            cand --ssh-key 'SSH private key to push with (also: HOMELAB_SSH_KEY)'
            cand --known-hosts 'An extra known_hosts file to verify the SSH host key against'
            cand --git-timeout 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 30s; a whole fetch or push may take ten times as long)'
            cand --dir 'The homelab repository (where homelab.yaml lives)'
            cand -y 'Don''t ask for confirmation'
            cand --yes 'Don''t ask for confirmation'
            cand --no-push 'Do not push after committing'
            cand --allow-stale 'Push even when the rendered files are out of date with homelab.yaml'
            cand --accept-new-host-key 'Trust and record an SSH host key seen for the first time (without asking)'
            cand -v 'More output: -v for details, -vv for debugging'
            cand --verbose 'More output: -v for details, -vv for debugging'
            cand --no-color 'Disable colors (also: the NO_COLOR environment variable)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'homelab;apps'= {
            cand --dir 'The homelab repository (where homelab.yaml lives)'
            cand -v 'More output: -v for details, -vv for debugging'
            cand --verbose 'More output: -v for details, -vv for debugging'
            cand --no-color 'Disable colors (also: the NO_COLOR environment variable)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'homelab;doctor'= {
            cand -o 'Output format'
            cand --output 'Output format'
            cand --kubeconfig 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'The kubeconfig context to use (default: the current context)'
            cand --request-timeout 'The longest one request to the API server, or the kubeconfig''s credential plugin, may take (default: 30s; 10s for doctor)'
            cand --known-hosts 'An extra known_hosts file to verify the git server''s SSH host key against'
            cand --git-timeout 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 10s)'
            cand --dir 'The homelab repository (where homelab.yaml lives)'
            cand -v 'More output: -v for details, -vv for debugging'
            cand --verbose 'More output: -v for details, -vv for debugging'
            cand --no-color 'Disable colors (also: the NO_COLOR environment variable)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'homelab;bootstrap'= {
            cand --kubeconfig 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'The kubeconfig context to use (default: the current context)'
            cand --request-timeout 'The longest one request to the API server, or the kubeconfig''s credential plugin, may take (default: 30s; 10s for doctor)'
            cand --timeout 'How long to wait for Flux to become ready (e.g. 10m, 90s)'
            cand --deploy-key 'Use this SSH private key as Flux''s deploy key instead of generating one'
            cand --known-hosts 'An extra known_hosts file to verify the SSH host key against'
            cand --git-timeout 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 30s; a whole fetch or push may take ten times as long)'
            cand --dir 'The homelab repository (where homelab.yaml lives)'
            cand --no-wait 'Apply and return without waiting for readiness'
            cand --dry-run 'Server-side dry run: print what would change, change nothing'
            cand --rotate-keys 'Replace the existing Flux git credentials (deploy key) with new ones'
            cand -y 'Don''t ask: init needs --config; bootstrap checks the deploy key once instead of asking'
            cand --yes 'Don''t ask: init needs --config; bootstrap checks the deploy key once instead of asking'
            cand --force 'Bootstrap even though k3s''s bundled Traefik or ServiceLB is enabled'
            cand --accept-new-host-key 'Trust and record an SSH host key seen for the first time (without asking)'
            cand -v 'More output: -v for details, -vv for debugging'
            cand --verbose 'More output: -v for details, -vv for debugging'
            cand --no-color 'Disable colors (also: the NO_COLOR environment variable)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'homelab;push'= {
            cand --ssh-key 'SSH private key to push with (also: HOMELAB_SSH_KEY)'
            cand --known-hosts 'An extra known_hosts file to verify the SSH host key against'
            cand --git-timeout 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 30s; a whole fetch or push may take ten times as long)'
            cand --timeout 'How long --wait waits (e.g. 10m, 90s)'
            cand --kubeconfig 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'The kubeconfig context to use (default: the current context)'
            cand --request-timeout 'The longest one request to the API server, or the kubeconfig''s credential plugin, may take (default: 30s; 10s for doctor)'
            cand --dir 'The homelab repository (where homelab.yaml lives)'
            cand --allow-stale 'Push even when the rendered files are out of date with homelab.yaml'
            cand --accept-new-host-key 'Trust and record an SSH host key seen for the first time (without asking)'
            cand --wait 'After pushing, make Flux apply the commit now and wait until every Kustomization and HelmRelease is Ready at it'
            cand -v 'More output: -v for details, -vv for debugging'
            cand --verbose 'More output: -v for details, -vv for debugging'
            cand --no-color 'Disable colors (also: the NO_COLOR environment variable)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'homelab;status'= {
            cand -o 'Output format'
            cand --output 'Output format'
            cand --kubeconfig 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'The kubeconfig context to use (default: the current context)'
            cand --request-timeout 'The longest one request to the API server, or the kubeconfig''s credential plugin, may take (default: 30s; 10s for doctor)'
            cand --dir 'The homelab repository (where homelab.yaml lives)'
            cand -v 'More output: -v for details, -vv for debugging'
            cand --verbose 'More output: -v for details, -vv for debugging'
            cand --no-color 'Disable colors (also: the NO_COLOR environment variable)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'homelab;sync'= {
            cand --timeout 'How long to wait for Flux to run the commit (e.g. 10m, 90s)'
            cand --kubeconfig 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)'
            cand --context 'The kubeconfig context to use (default: the current context)'
            cand --request-timeout 'The longest one request to the API server, or the kubeconfig''s credential plugin, may take (default: 30s; 10s for doctor)'
            cand --dir 'The homelab repository (where homelab.yaml lives)'
            cand --no-wait 'Ask Flux to reconcile and return without waiting'
            cand -v 'More output: -v for details, -vv for debugging'
            cand --verbose 'More output: -v for details, -vv for debugging'
            cand --no-color 'Disable colors (also: the NO_COLOR environment variable)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'homelab;completions'= {
            cand --dir 'The homelab repository (where homelab.yaml lives)'
            cand -v 'More output: -v for details, -vv for debugging'
            cand --verbose 'More output: -v for details, -vv for debugging'
            cand --no-color 'Disable colors (also: the NO_COLOR environment variable)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'homelab;help'= {
            cand init 'Create homelab.yaml (wizard or --config) and render, commit, push and bootstrap the repository'
            cand render 'Re-render the repository from homelab.yaml, keeping your own edits'
            cand add-app 'Add an app from the catalog'
            cand remove-app 'Remove an installed app'
            cand apps 'List the app catalog and what is installed'
            cand doctor 'Check the whole homelab and say how to fix what is wrong'
            cand bootstrap 'Apply the Flux bootstrap into the cluster, so Flux takes over from git'
            cand push 'Commit and push the repository to git.url'
            cand status 'Show every Flux object of the cluster: Ready, revision, message'
            cand sync 'Make Flux apply the pushed commit now and wait until the cluster runs it'
            cand completions 'Print shell completions'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'homelab;help;init'= {
        }
        &'homelab;help;render'= {
        }
        &'homelab;help;add-app'= {
        }
        &'homelab;help;remove-app'= {
        }
        &'homelab;help;apps'= {
        }
        &'homelab;help;doctor'= {
        }
        &'homelab;help;bootstrap'= {
        }
        &'homelab;help;push'= {
        }
        &'homelab;help;status'= {
        }
        &'homelab;help;sync'= {
        }
        &'homelab;help;completions'= {
        }
        &'homelab;help;help'= {
        }
    ]
    $completions[$command]
}
