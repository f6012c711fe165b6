# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_homelab_global_optspecs
    string join \n dir= v/verbose no-color h/help V/version
end

function __fish_homelab_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_homelab_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_homelab_using_subcommand
    set -l cmd (__fish_homelab_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c homelab -n "__fish_homelab_needs_command" -l dir -d 'The homelab repository (where homelab.yaml lives)' -r -F
complete -c homelab -n "__fish_homelab_needs_command" -s v -l verbose -d 'More output: -v for details, -vv for debugging'
complete -c homelab -n "__fish_homelab_needs_command" -l no-color -d 'Disable colors (also: the NO_COLOR environment variable)'
complete -c homelab -n "__fish_homelab_needs_command" -s h -l help -d 'Print help'
complete -c homelab -n "__fish_homelab_needs_command" -s V -l version -d 'Print version'
complete -c homelab -n "__fish_homelab_needs_command" -f -a "init" -d 'Create homelab.yaml (wizard or --config) and render, commit, push and bootstrap the repository'
complete -c homelab -n "__fish_homelab_needs_command" -f -a "render" -d 'Re-render the repository from homelab.yaml, keeping your own edits'
complete -c homelab -n "__fish_homelab_needs_command" -f -a "add-app" -d 'Add an app from the catalog'
complete -c homelab -n "__fish_homelab_needs_command" -f -a "remove-app" -d 'Remove an installed app'
complete -c homelab -n "__fish_homelab_needs_command" -f -a "apps" -d 'List the app catalog and what is installed'
complete -c homelab -n "__fish_homelab_needs_command" -f -a "doctor" -d 'Check the whole homelab and say how to fix what is wrong'
complete -c homelab -n "__fish_homelab_needs_command" -f -a "bootstrap" -d 'Apply the Flux bootstrap into the cluster, so Flux takes over from git'
complete -c homelab -n "__fish_homelab_needs_command" -f -a "push" -d 'Commit and push the repository to git.url'
complete -c homelab -n "__fish_homelab_needs_command" -f -a "status" -d 'Show every Flux object of the cluster: Ready, revision, message'
complete -c homelab -n "__fish_homelab_needs_command" -f -a "sync" -d 'Make Flux apply the pushed commit now and wait until the cluster runs it'
complete -c homelab -n "__fish_homelab_needs_command" -f -a "completions" -d 'Print shell completions'
complete -c homelab -n "__fish_homelab_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c homelab -n "__fish_homelab_using_subcommand init" -l config -d 'Read the answers from this homelab.yaml-shaped file instead of asking' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand init" -l flux-manifests -d 'Use this Flux install.yaml instead of downloading the release\'s (works offline)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand init" -l ssh-key -d 'SSH private key to push with (also: HOMELAB_SSH_KEY)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand init" -l known-hosts -d 'An extra known_hosts file to verify the SSH host key against' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand init" -l git-timeout -d 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 30s; a whole fetch or push may take ten times as long)' -r
complete -c homelab -n "__fish_homelab_using_subcommand init" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand init" -l context -d 'The kubeconfig context to use (default: the current context)' -r
complete -c homelab -n "__fish_homelab_using_subcommand init" -l request-timeout -d 'The longest one request to the API server, or the kubeconfig\'s credential plugin, may take (default: 30s; 10s for doctor)' -r
complete -c homelab -n "__fish_homelab_using_subcommand init" -l timeout -d 'How long to wait for Flux to become ready (e.g. 10m, 90s)' -r
complete -c homelab -n "__fish_homelab_using_subcommand init" -l deploy-key -d 'Use this SSH private key as Flux\'s deploy key instead of generating one' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand init" -l dir -d 'The homelab repository (where homelab.yaml lives)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand init" -l no-push -d 'Do not push after committing'
complete -c homelab -n "__fish_homelab_using_subcommand init" -l no-bootstrap -d 'Do not apply the Flux bootstrap into the cluster'
complete -c homelab -n "__fish_homelab_using_subcommand init" -l allow-non-empty -d 'Render into a directory that already holds other files (they are never committed)'
complete -c homelab -n "__fish_homelab_using_subcommand init" -l allow-stale -d 'Push even when the rendered files are out of date with homelab.yaml'
complete -c homelab -n "__fish_homelab_using_subcommand init" -l accept-new-host-key -d 'Trust and record an SSH host key seen for the first time (without asking)'
complete -c homelab -n "__fish_homelab_using_subcommand init" -l no-wait -d 'Apply and return without waiting for readiness'
complete -c homelab -n "__fish_homelab_using_subcommand init" -l dry-run -d 'Server-side dry run: print what would change, change nothing'
complete -c homelab -n "__fish_homelab_using_subcommand init" -l rotate-keys -d 'Replace the existing Flux git credentials (deploy key) with new ones'
complete -c homelab -n "__fish_homelab_using_subcommand init" -s y -l yes -d 'Don\'t ask: init needs --config; bootstrap checks the deploy key once instead of asking'
complete -c homelab -n "__fish_homelab_using_subcommand init" -l force -d 'Bootstrap even though k3s\'s bundled Traefik or ServiceLB is enabled'
complete -c homelab -n "__fish_homelab_using_subcommand init" -s v -l verbose -d 'More output: -v for details, -vv for debugging'
complete -c homelab -n "__fish_homelab_using_subcommand init" -l no-color -d 'Disable colors (also: the NO_COLOR environment variable)'
complete -c homelab -n "__fish_homelab_using_subcommand init" -s h -l help -d 'Print help'
complete -c homelab -n "__fish_homelab_using_subcommand init" -s V -l version -d 'Print version'
complete -c homelab -n "__fish_homelab_using_subcommand render" -l flux-manifests -d 'Use this Flux install.yaml instead of downloading the release\'s (works offline)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand render" -l dir -d 'The homelab repository (where homelab.yaml lives)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand render" -l diff -d 'Print the changes that would be made and write nothing'
complete -c homelab -n "__fish_homelab_using_subcommand render" -l force -d 'Overwrite your edits to generated files (after showing them)'
complete -c homelab -n "__fish_homelab_using_subcommand render" -l merge -d 'Leave conflict markers in files whose edits conflict with the new rendering'
complete -c homelab -n "__fish_homelab_using_subcommand render" -s v -l verbose -d 'More output: -v for details, -vv for debugging'
complete -c homelab -n "__fish_homelab_using_subcommand render" -l no-color -d 'Disable colors (also: the NO_COLOR environment variable)'
complete -c homelab -n "__fish_homelab_using_subcommand render" -s h -l help -d 'Print help'
complete -c homelab -n "__fish_homelab_using_subcommand render" -s V -l version -d 'Print version'
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l set -d 'Answer a profile question: --set key=value (repeatable)' -r
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l host -d 'Serve the app at this host instead of <app>.<domain>' -r
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l namespace -d 'Install into this namespace instead of the profile\'s default' -r
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l ssh-key -d 'SSH private key to push with (also: HOMELAB_SSH_KEY)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l known-hosts -d 'An extra known_hosts file to verify the SSH host key against' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l git-timeout -d 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 30s; a whole fetch or push may take ten times as long)' -r
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l timeout -d 'How long --wait waits (e.g. 10m, 90s)' -r
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l context -d 'The kubeconfig context to use (default: the current context)' -r
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l request-timeout -d 'The longest one request to the API server, or the kubeconfig\'s credential plugin, may take (default: 30s; 10s for doctor)' -r
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l dir -d 'The homelab repository (where homelab.yaml lives)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -s y -l yes -d 'Don\'t ask: every question takes its default or --set value'
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l no-push -d 'Do not push after committing'
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l allow-stale -d 'Push even when the rendered files are out of date with homelab.yaml'
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l accept-new-host-key -d 'Trust and record an SSH host key seen for the first time (without asking)'
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l wait -d 'After pushing, make Flux apply the commit now and wait until every Kustomization and HelmRelease is Ready at it'
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -s v -l verbose -d 'More output: -v for details, -vv for debugging'
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -l no-color -d 'Disable colors (also: the NO_COLOR environment variable)'
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -s h -l help -d 'Print help'
complete -c homelab -n "__fish_homelab_using_subcommand add-app" -s V -l version -d 'Print version'
complete -c homelab -n "__fish_homelab_using_subcommand remove-app" -l ssh-key -d 'SSH private key to push with (also: HOMELAB_SSH_KEY)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand remove-app" -l known-hosts -d 'An extra known_hosts file to verify the SSH host key against' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand remove-app" -l git-timeout -d 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 30s; a whole fetch or push may take ten times as long)' -r
complete -c homelab -n "__fish_homelab_using_subcommand remove-app" -l dir -d 'The homelab repository (where homelab.yaml lives)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand remove-app" -s y -l yes -d 'Don\'t ask for confirmation'
complete -c homelab -n "__fish_homelab_using_subcommand remove-app" -l no-push -d 'Do not push after committing'
complete -c homelab -n "__fish_homelab_using_subcommand remove-app" -l allow-stale -d 'Push even when the rendered files are out of date with homelab.yaml'
complete -c homelab -n "__fish_homelab_using_subcommand remove-app" -l accept-new-host-key -d 'Trust and record an SSH host key seen for the first time (without asking)'
complete -c homelab -n "__fish_homelab_using_subcommand remove-app" -s v -l verbose -d 'More output: -v for details, -vv for debugging'
complete -c homelab -n "__fish_homelab_using_subcommand remove-app" -l no-color -d 'Disable colors (also: the NO_COLOR environment variable)'
complete -c homelab -n "__fish_homelab_using_subcommand remove-app" -s h -l help -d 'Print help'
complete -c homelab -n "__fish_homelab_using_subcommand remove-app" -s V -l version -d 'Print version'
complete -c homelab -n "__fish_homelab_using_subcommand apps" -l dir -d 'The homelab repository (where homelab.yaml lives)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand apps" -s v -l verbose -d 'More output: -v for details, -vv for debugging'
complete -c homelab -n "__fish_homelab_using_subcommand apps" -l no-color -d 'Disable colors (also: the NO_COLOR environment variable)'
complete -c homelab -n "__fish_homelab_using_subcommand apps" -s h -l help -d 'Print help'
complete -c homelab -n "__fish_homelab_using_subcommand apps" -s V -l version -d 'Print version'
complete -c homelab -n "__fish_homelab_using_subcommand doctor" -s o -l output -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c homelab -n "__fish_homelab_using_subcommand doctor" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand doctor" -l context -d 'The kubeconfig context to use (default: the current context)' -r
complete -c homelab -n "__fish_homelab_using_subcommand doctor" -l request-timeout -d 'The longest one request to the API server, or the kubeconfig\'s credential plugin, may take (default: 30s; 10s for doctor)' -r
complete -c homelab -n "__fish_homelab_using_subcommand doctor" -l known-hosts -d 'An extra known_hosts file to verify the git server\'s SSH host key against' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand doctor" -l git-timeout -d 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 10s)' -r
complete -c homelab -n "__fish_homelab_using_subcommand doctor" -l dir -d 'The homelab repository (where homelab.yaml lives)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand doctor" -s v -l verbose -d 'More output: -v for details, -vv for debugging'
complete -c homelab -n "__fish_homelab_using_subcommand doctor" -l no-color -d 'Disable colors (also: the NO_COLOR environment variable)'
complete -c homelab -n "__fish_homelab_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c homelab -n "__fish_homelab_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -l context -d 'The kubeconfig context to use (default: the current context)' -r
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -l request-timeout -d 'The longest one request to the API server, or the kubeconfig\'s credential plugin, may take (default: 30s; 10s for doctor)' -r
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -l timeout -d 'How long to wait for Flux to become ready (e.g. 10m, 90s)' -r
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -l deploy-key -d 'Use this SSH private key as Flux\'s deploy key instead of generating one' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -l known-hosts -d 'An extra known_hosts file to verify the SSH host key against' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -l git-timeout -d 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 30s; a whole fetch or push may take ten times as long)' -r
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -l dir -d 'The homelab repository (where homelab.yaml lives)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -l no-wait -d 'Apply and return without waiting for readiness'
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -l dry-run -d 'Server-side dry run: print what would change, change nothing'
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -l rotate-keys -d 'Replace the existing Flux git credentials (deploy key) with new ones'
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -s y -l yes -d 'Don\'t ask: init needs --config; bootstrap checks the deploy key once instead of asking'
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -l force -d 'Bootstrap even though k3s\'s bundled Traefik or ServiceLB is enabled'
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -l accept-new-host-key -d 'Trust and record an SSH host key seen for the first time (without asking)'
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -s v -l verbose -d 'More output: -v for details, -vv for debugging'
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -l no-color -d 'Disable colors (also: the NO_COLOR environment variable)'
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -s h -l help -d 'Print help'
complete -c homelab -n "__fish_homelab_using_subcommand bootstrap" -s V -l version -d 'Print version'
complete -c homelab -n "__fish_homelab_using_subcommand push" -l ssh-key -d 'SSH private key to push with (also: HOMELAB_SSH_KEY)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand push" -l known-hosts -d 'An extra known_hosts file to verify the SSH host key against' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand push" -l git-timeout -d 'The longest connecting to the git remote, or waiting for its next bytes, may take (default: 30s; a whole fetch or push may take ten times as long)' -r
complete -c homelab -n "__fish_homelab_using_subcommand push" -l timeout -d 'How long --wait waits (e.g. 10m, 90s)' -r
complete -c homelab -n "__fish_homelab_using_subcommand push" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand push" -l context -d 'The kubeconfig context to use (default: the current context)' -r
complete -c homelab -n "__fish_homelab_using_subcommand push" -l request-timeout -d 'The longest one request to the API server, or the kubeconfig\'s credential plugin, may take (default: 30s; 10s for doctor)' -r
complete -c homelab -n "__fish_homelab_using_subcommand push" -l dir -d 'The homelab repository (where homelab.yaml lives)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand push" -l allow-stale -d 'Push even when the rendered files are out of date with homelab.yaml'
complete -c homelab -n "__fish_homelab_using_subcommand push" -l accept-new-host-key -d 'Trust and record an SSH host key seen for the first time (without asking)'
complete -c homelab -n "__fish_homelab_using_subcommand push" -l wait -d 'After pushing, make Flux apply the commit now and wait until every Kustomization and HelmRelease is Ready at it'
complete -c homelab -n "__fish_homelab_using_subcommand push" -s v -l verbose -d 'More output: -v for details, -vv for debugging'
complete -c homelab -n "__fish_homelab_using_subcommand push" -l no-color -d 'Disable colors (also: the NO_COLOR environment variable)'
complete -c homelab -n "__fish_homelab_using_subcommand push" -s h -l help -d 'Print help'
complete -c homelab -n "__fish_homelab_using_subcommand push" -s V -l version -d 'Print version'
complete -c homelab -n "__fish_homelab_using_subcommand status" -s o -l output -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c homelab -n "__fish_homelab_using_subcommand status" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand status" -l context -d 'The kubeconfig context to use (default: the current context)' -r
complete -c homelab -n "__fish_homelab_using_subcommand status" -l request-timeout -d 'The longest one request to the API server, or the kubeconfig\'s credential plugin, may take (default: 30s; 10s for doctor)' -r
complete -c homelab -n "__fish_homelab_using_subcommand status" -l dir -d 'The homelab repository (where homelab.yaml lives)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand status" -s v -l verbose -d 'More output: -v for details, -vv for debugging'
complete -c homelab -n "__fish_homelab_using_subcommand status" -l no-color -d 'Disable colors (also: the NO_COLOR environment variable)'
complete -c homelab -n "__fish_homelab_using_subcommand status" -s h -l help -d 'Print help'
complete -c homelab -n "__fish_homelab_using_subcommand status" -s V -l version -d 'Print version'
complete -c homelab -n "__fish_homelab_using_subcommand sync" -l timeout -d 'How long to wait for Flux to run the commit (e.g. 10m, 90s)' -r
complete -c homelab -n "__fish_homelab_using_subcommand sync" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand sync" -l context -d 'The kubeconfig context to use (default: the current context)' -r
complete -c homelab -n "__fish_homelab_using_subcommand sync" -l request-timeout -d 'The longest one request to the API server, or the kubeconfig\'s credential plugin, may take (default: 30s; 10s for doctor)' -r
complete -c homelab -n "__fish_homelab_using_subcommand sync" -l dir -d 'The homelab repository (where homelab.yaml lives)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand sync" -l no-wait -d 'Ask Flux to reconcile and return without waiting'
complete -c homelab -n "__fish_homelab_using_subcommand sync" -s v -l verbose -d 'More output: -v for details, -vv for debugging'
complete -c homelab -n "__fish_homelab_using_subcommand sync" -l no-color -d 'Disable colors (also: the NO_COLOR environment variable)'
complete -c homelab -n "__fish_homelab_using_subcommand sync" -s h -l help -d 'Print help'
complete -c homelab -n "__fish_homelab_using_subcommand sync" -s V -l version -d 'Print version'
complete -c homelab -n "__fish_homelab_using_subcommand completions" -l dir -d 'The homelab repository (where homelab.yaml lives)' -r -F
complete -c homelab -n "__fish_homelab_using_subcommand completions" -s v -l verbose -d 'More output: -v for details, -vv for debugging'
complete -c homelab -n "__fish_homelab_using_subcommand completions" -l no-color -d 'Disable colors (also: the NO_COLOR environment variable)'
complete -c homelab -n "__fish_homelab_using_subcommand completions" -s h -l help -d 'Print help'
complete -c homelab -n "__fish_homelab_using_subcommand completions" -s V -l version -d 'Print version'
complete -c homelab -n "__fish_homelab_using_subcommand help; and not __fish_seen_subcommand_from init render add-app remove-app apps doctor bootstrap push status sync completions help" -f -a "init" -d 'Create homelab.yaml (wizard or --config) and render, commit, push and bootstrap the repository'
complete -c homelab -n "__fish_homelab_using_subcommand help; and not __fish_seen_subcommand_from init render add-app remove-app apps doctor bootstrap push status sync completions help" -f -a "render" -d 'Re-render the repository from homelab.yaml, keeping your own edits'
complete -c homelab -n "__fish_homelab_using_subcommand help; and not __fish_seen_subcommand_from init render add-app remove-app apps doctor bootstrap push status sync completions help" -f -a "add-app" -d 'Add an app from the catalog'
complete -c homelab -n "__fish_homelab_using_subcommand help; and not __fish_seen_subcommand_from init render add-app remove-app apps doctor bootstrap push status sync completions help" -f -a "remove-app" -d 'Remove an installed app'
complete -c homelab -n "__fish_homelab_using_subcommand help; and not __fish_seen_subcommand_from init render add-app remove-app apps doctor bootstrap push status sync completions help" -f -a "apps" -d 'List the app catalog and what is installed'
complete -c homelab -n "__fish_homelab_using_subcommand help; and not __fish_seen_subcommand_from init render add-app remove-app apps doctor bootstrap push status sync completions help" -f -a "doctor" -d 'Check the whole homelab and say how to fix what is wrong'
complete -c homelab -n "__fish_homelab_using_subcommand help; and not __fish_seen_subcommand_from init render add-app remove-app apps doctor bootstrap push status sync completions help" -f -a "bootstrap" -d 'Apply the Flux bootstrap into the cluster, so Flux takes over from git'
complete -c homelab -n "__fish_homelab_using_subcommand help; and not __fish_seen_subcommand_from init render add-app remove-app apps doctor bootstrap push status sync completions help" -f -a "push" -d 'Commit and push the repository to git.url'
complete -c homelab -n "__fish_homelab_using_subcommand help; and not __fish_seen_subcommand_from init render add-app remove-app apps doctor bootstrap push status sync completions help" -f -a "status" -d 'Show every Flux object of the cluster: Ready, revision, message'
complete -c homelab -n "__fish_homelab_using_subcommand help; and not __fish_seen_subcommand_from init render add-app remove-app apps doctor bootstrap push status sync completions help" -f -a "sync" -d 'Make Flux apply the pushed commit now and wait until the cluster runs it'
complete -c homelab -n "__fish_homelab_using_subcommand help; and not __fish_seen_subcommand_from init render add-app remove-app apps doctor bootstrap push status sync completions help" -f -a "completions" -d 'Print shell completions'
complete -c homelab -n "__fish_homelab_using_subcommand help; and not __fish_seen_subcommand_from init render add-app remove-app apps doctor bootstrap push status sync completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
