# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_uptimeping_global_optspecs
    string join \n color= h/help V/version
end

function __fish_uptimeping_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_uptimeping_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_uptimeping_using_subcommand
    set -l cmd (__fish_uptimeping_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c uptimeping -n "__fish_uptimeping_needs_command" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_needs_command" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -s V -l version -d 'Print version'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "validate" -d 'Check files for errors without running anything'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "test" -d 'Run every check once from this machine and print the results'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "plan" -d 'Show what apply would change, without changing anything'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "apply" -d 'Apply the files (or a saved plan) to the daemon'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "checks" -d 'Inspect and control the checks a daemon runs'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "incidents" -d 'List, inspect, acknowledge, update and resolve incidents'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "report" -d 'Uptime, SLO, latency and incidents of the daemon\'s checks over a span'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "channels" -d 'List notification channels and send test messages'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "tenants" -d 'Manage tenants (admin keys of the first tenant only)'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "nodes" -d 'Show the daemons sharing the checks (first tenant only)'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "audit" -d 'Read the audit log: changes and security events (admins only)'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "auth" -d 'Log in and out, see who you are, manage API keys'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "users" -d 'Add, invite, list and remove the tenant\'s users, and change their roles (admins)'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "context" -d 'Manage named daemon connections (contexts)'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "schema" -d 'Print the JSON Schema of check files'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "forge" -d 'Turn .proto files into checks: validate them, generate check YAML or a Rust crate'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "completions" -d 'Print a shell completion script, or write the man pages'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "daemon" -d 'Run checks on their schedules, open incidents, send alerts, serve the API'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand validate" -s f -l file -d 'A YAML file or a directory (read recursively); `-` reads standard input. Repeatable' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand validate" -s o -l output -d 'Output format of the result' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand validate" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand validate" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand test" -s f -l file -d 'A YAML file or a directory (read recursively); `-` reads standard input. Repeatable' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand test" -l check -d 'Only run the check with this name. Repeatable' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand test" -l concurrency -d 'How many checks run at the same time' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand test" -s o -l output -d 'Output format: a table, or one object per check as JSON or YAML' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand test" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand test" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand plan" -s f -l file -d 'A YAML file or a directory (read recursively); `-` reads standard input. Repeatable' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand plan" -l source -d 'Ownership label recorded on what is applied [default: `source` in uptimeping.yaml next to the files or above them, else the git repository\'s directory name, else the files\' directory name]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand plan" -l out -d 'Save the plan, with the request that made it, for `uptimeping apply FILE`. It holds the secrets of the files, so it is written readable by you only' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand plan" -s o -l output -d 'Output format: the plan as text (table), or its JSON or YAML document' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand plan" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand plan" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand plan" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand plan" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand plan" -l prune -d 'Delete resources of this source that are no longer in the files'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand plan" -l allow-empty -d 'With --prune, allow files with no resources to delete everything of this source'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand plan" -l take-over -d 'Take over resources that another source applied'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand plan" -l adopt -d 'Manage resources that were created outside plan/apply'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand plan" -l detailed-exitcode -d 'Exit 0 when there are no changes, 2 when there are, 1 on errors'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand plan" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand apply" -s f -l file -d 'A YAML file or a directory (read recursively); `-` reads standard input. Repeatable' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand apply" -l source -d 'Ownership label recorded on what is applied [default: `source` in uptimeping.yaml next to the files or above them, else the git repository\'s directory name, else the files\' directory name]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand apply" -s o -l output -d 'Output format: text (table), or the apply result\'s JSON or YAML document' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand apply" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand apply" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand apply" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand apply" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand apply" -l prune -d 'Delete resources of this source that are no longer in the files'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand apply" -l allow-empty -d 'With --prune, allow files with no resources to delete everything of this source'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand apply" -l take-over -d 'Take over resources that another source applied'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand apply" -l adopt -d 'Manage resources that were created outside plan/apply'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand apply" -l auto-approve -d 'Apply without asking for confirmation'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand apply" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and not __fish_seen_subcommand_from list get status history run pause resume delete help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and not __fish_seen_subcommand_from list get status history run pause resume delete help" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and not __fish_seen_subcommand_from list get status history run pause resume delete help" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and not __fish_seen_subcommand_from list get status history run pause resume delete help" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and not __fish_seen_subcommand_from list get status history run pause resume delete help" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and not __fish_seen_subcommand_from list get status history run pause resume delete help" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and not __fish_seen_subcommand_from list get status history run pause resume delete help" -f -a "list" -d 'List checks with their last state'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and not __fish_seen_subcommand_from list get status history run pause resume delete help" -f -a "get" -d 'Show one check: its state and its spec (secrets masked)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and not __fish_seen_subcommand_from list get status history run pause resume delete help" -f -a "status" -d 'Show one check\'s current state'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and not __fish_seen_subcommand_from list get status history run pause resume delete help" -f -a "history" -d 'Show one check\'s latest results, newest first, or its history in buckets'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and not __fish_seen_subcommand_from list get status history run pause resume delete help" -f -a "run" -d 'Run one check now on the daemon and show the result'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and not __fish_seen_subcommand_from list get status history run pause resume delete help" -f -a "pause" -d 'Stop running a check until it is resumed'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and not __fish_seen_subcommand_from list get status history run pause resume delete help" -f -a "resume" -d 'Run a paused check again'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and not __fish_seen_subcommand_from list get status history run pause resume delete help" -f -a "delete" -d 'Delete a check from the daemon (an apply of its files brings it back)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and not __fish_seen_subcommand_from list get status history run pause resume delete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from list" -l label -d 'Only checks with this label. Repeatable; all must match' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from list" -l state -d 'Only checks in this state' -r -f -a "pending\t''
up\t''
down\t''
paused\t''
disabled\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from list" -l type -d 'Only checks of this type' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from list" -l limit -d 'Show at most this many checks [default: all]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from list" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from list" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from list" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from list" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from get" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from get" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from get" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from get" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from get" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from status" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from status" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from status" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from status" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from history" -l limit -d 'How many results to show' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from history" -l resolution -d 'Show buckets of this width instead of single runs' -r -f -a "1m\t''
5m\t''
15m\t''
1h\t''
1d\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from history" -l window -d 'The span of the buckets, ending now: a duration such as 24h or 7d [default: 24h]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from history" -l location -d 'Only the runs from this location, of a check that lists several `locations`' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from history" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from history" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from history" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from history" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from history" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from history" -l all -d 'Show every result the daemon keeps, following its pages'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from history" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from run" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from run" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from run" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from run" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from run" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from pause" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from pause" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from pause" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from pause" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from pause" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from pause" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from resume" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from resume" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from resume" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from resume" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from resume" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from resume" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from delete" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from delete" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from delete" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from delete" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from help" -f -a "list" -d 'List checks with their last state'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from help" -f -a "get" -d 'Show one check: its state and its spec (secrets masked)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show one check\'s current state'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from help" -f -a "history" -d 'Show one check\'s latest results, newest first, or its history in buckets'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from help" -f -a "run" -d 'Run one check now on the daemon and show the result'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from help" -f -a "pause" -d 'Stop running a check until it is resumed'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from help" -f -a "resume" -d 'Run a paused check again'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a check from the daemon (an apply of its files brings it back)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand checks; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and not __fish_seen_subcommand_from list get ack update resolve help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and not __fish_seen_subcommand_from list get ack update resolve help" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and not __fish_seen_subcommand_from list get ack update resolve help" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and not __fish_seen_subcommand_from list get ack update resolve help" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and not __fish_seen_subcommand_from list get ack update resolve help" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and not __fish_seen_subcommand_from list get ack update resolve help" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and not __fish_seen_subcommand_from list get ack update resolve help" -f -a "list" -d 'List incidents, newest first'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and not __fish_seen_subcommand_from list get ack update resolve help" -f -a "get" -d 'Show one incident with its events and notifications'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and not __fish_seen_subcommand_from list get ack update resolve help" -f -a "ack" -d 'Acknowledge an incident: someone is on it, escalation stops'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and not __fish_seen_subcommand_from list get ack update resolve help" -f -a "update" -d 'Post an update on an incident: its channels get it, status pages show it'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and not __fish_seen_subcommand_from list get ack update resolve help" -f -a "resolve" -d 'Resolve an incident by hand'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and not __fish_seen_subcommand_from list get ack update resolve help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from list" -l status -d 'Only incidents in this status' -r -f -a "open\t''
acknowledged\t''
resolved\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from list" -l check -d 'Only incidents of this check' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from list" -l limit -d 'How many incidents to show at most' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from list" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from list" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from list" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from list" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from list" -l all -d 'Show every incident, following the daemon\'s pages'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from get" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from get" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from get" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from get" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from get" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from ack" -l comment -d 'Recorded with the event' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from ack" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from ack" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from ack" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from ack" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from ack" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from ack" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from update" -s m -l message -d 'What is known now (at most 2000 characters)' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from update" -l status -d 'Where the work stands; by default the incident\'s last update\'s, else investigating' -r -f -a "investigating\t''
identified\t''
monitoring\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from update" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from update" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from update" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from update" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from resolve" -l comment -d 'Recorded with the event' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from resolve" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from resolve" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from resolve" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from resolve" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from resolve" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from resolve" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from help" -f -a "list" -d 'List incidents, newest first'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from help" -f -a "get" -d 'Show one incident with its events and notifications'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from help" -f -a "ack" -d 'Acknowledge an incident: someone is on it, escalation stops'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from help" -f -a "update" -d 'Post an update on an incident: its channels get it, status pages show it'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from help" -f -a "resolve" -d 'Resolve an incident by hand'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand incidents; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand report" -l window -d 'The span: 1h, 24h, 7d, 30d, 90d or any duration [default: 24h, 7d and 30d side by side]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand report" -l from -d 'Start of the span, RFC 3339 (2026-06-01T00:00:00Z)' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand report" -l to -d 'End of the span, RFC 3339 [default: now]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand report" -l check -d 'Only this check. Repeatable' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand report" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''
csv\t'A header row and one row per check (RFC 4180), numbers unformatted'"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand report" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand report" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand report" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand report" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand report" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and not __fish_seen_subcommand_from list get test help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and not __fish_seen_subcommand_from list get test help" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and not __fish_seen_subcommand_from list get test help" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and not __fish_seen_subcommand_from list get test help" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and not __fish_seen_subcommand_from list get test help" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and not __fish_seen_subcommand_from list get test help" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and not __fish_seen_subcommand_from list get test help" -f -a "list" -d 'List channels with how many notifications were sent, failed and are pending'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and not __fish_seen_subcommand_from list get test help" -f -a "get" -d 'Show one channel: its settings (secrets masked) and delivery counts'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and not __fish_seen_subcommand_from list get test help" -f -a "test" -d 'Send a test notification through a channel and wait for the outcome (exit 1 if not delivered)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and not __fish_seen_subcommand_from list get test help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from list" -l limit -d 'Show at most this many channels [default: all]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from list" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from list" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from list" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from list" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from get" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from get" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from get" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from get" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from get" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from test" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from test" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from test" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from test" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from test" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from help" -f -a "list" -d 'List channels with how many notifications were sent, failed and are pending'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from help" -f -a "get" -d 'Show one channel: its settings (secrets masked) and delivery counts'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from help" -f -a "test" -d 'Send a test notification through a channel and wait for the outcome (exit 1 if not delivered)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand channels; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and not __fish_seen_subcommand_from create help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and not __fish_seen_subcommand_from create help" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and not __fish_seen_subcommand_from create help" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and not __fish_seen_subcommand_from create help" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and not __fish_seen_subcommand_from create help" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and not __fish_seen_subcommand_from create help" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and not __fish_seen_subcommand_from create help" -f -a "create" -d 'Create a tenant and print its admin API key'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and not __fish_seen_subcommand_from create help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and __fish_seen_subcommand_from create" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and __fish_seen_subcommand_from create" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and __fish_seen_subcommand_from create" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and __fish_seen_subcommand_from create" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a tenant and print its admin API key'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand tenants; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and not __fish_seen_subcommand_from list help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and not __fish_seen_subcommand_from list help" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and not __fish_seen_subcommand_from list help" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and not __fish_seen_subcommand_from list help" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and not __fish_seen_subcommand_from list help" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and not __fish_seen_subcommand_from list help" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and not __fish_seen_subcommand_from list help" -f -a "list" -d 'List nodes: name, location, last heartbeat, checks owned'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and not __fish_seen_subcommand_from list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and __fish_seen_subcommand_from list" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and __fish_seen_subcommand_from list" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and __fish_seen_subcommand_from list" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and __fish_seen_subcommand_from list" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and __fish_seen_subcommand_from help" -f -a "list" -d 'List nodes: name, location, last heartbeat, checks owned'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand nodes; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and not __fish_seen_subcommand_from list help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and not __fish_seen_subcommand_from list help" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and not __fish_seen_subcommand_from list help" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and not __fish_seen_subcommand_from list help" -f -a "list" -d 'List audit entries, newest first'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and not __fish_seen_subcommand_from list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from list" -l since -d 'Only entries from this time on: a duration back from now (24h, 7d) or an RFC 3339 time' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from list" -l until -d 'Only entries before this time: a duration back from now or an RFC 3339 time' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from list" -l actor -d 'Only entries of this actor (`user:ann@example.com`, `key:*`)' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from list" -l action -d 'Only entries of this action (`incident.ack`, `incident.*`); see the list below' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from list" -l outcome -d 'Only entries with this outcome' -r -f -a "ok\t''
refused\t''
failed\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from list" -l target -d 'Only entries about this target: a check\'s name, an incident\'s id, …' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from list" -l limit -d 'How many entries to show at most' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from list" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from list" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from list" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from list" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from list" -l all -d 'Show every entry, following the daemon\'s pages'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "list" -d 'List audit entries, newest first'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and not __fish_seen_subcommand_from login logout whoami register passwd accept-invite api-key help" -s o -l output -d 'Output format of `whoami` and `api-key`' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and not __fish_seen_subcommand_from login logout whoami register passwd accept-invite api-key help" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and not __fish_seen_subcommand_from login logout whoami register passwd accept-invite api-key help" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and not __fish_seen_subcommand_from login logout whoami register passwd accept-invite api-key help" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and not __fish_seen_subcommand_from login logout whoami register passwd accept-invite api-key help" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and not __fish_seen_subcommand_from login logout whoami register passwd accept-invite api-key help" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and not __fish_seen_subcommand_from login logout whoami register passwd accept-invite api-key help" -f -a "login" -d 'Log in with an email and password and keep the tokens for this context'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and not __fish_seen_subcommand_from login logout whoami register passwd accept-invite api-key help" -f -a "logout" -d 'End the session on the daemon and delete the saved login'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and not __fish_seen_subcommand_from login logout whoami register passwd accept-invite api-key help" -f -a "whoami" -d 'Show who the credential in use stands for: user or key, tenant, role'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and not __fish_seen_subcommand_from login logout whoami register passwd accept-invite api-key help" -f -a "register" -d 'Create a tenant with yourself as its admin (only where the daemon allows signup)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and not __fish_seen_subcommand_from login logout whoami register passwd accept-invite api-key help" -f -a "passwd" -d 'Change your password (ends your other sessions)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and not __fish_seen_subcommand_from login logout whoami register passwd accept-invite api-key help" -f -a "accept-invite" -d 'Accept an invitation: choose your password and log in'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and not __fish_seen_subcommand_from login logout whoami register passwd accept-invite api-key help" -f -a "api-key" -d 'Create, list and revoke API keys (admins)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and not __fish_seen_subcommand_from login logout whoami register passwd accept-invite api-key help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from login" -l email -d 'The account\'s email; asked for on a terminal when left out' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from login" -l tenant -d 'The tenant, when the same email and password belong to users of several' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from login" -s o -l output -d 'Output format of `whoami` and `api-key`' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from login" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from login" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from login" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from login" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from login" -l password-stdin -d 'Read the password from the first line of standard input instead of asking'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from login" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from logout" -s o -l output -d 'Output format of `whoami` and `api-key`' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from logout" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from logout" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from logout" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from logout" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from logout" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from whoami" -s o -l output -d 'Output format of `whoami` and `api-key`' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from whoami" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from whoami" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from whoami" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from whoami" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from whoami" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from register" -l email -d 'Your email, the new tenant\'s first admin' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from register" -l tenant -d 'The new tenant\'s name: 1–63 lowercase letters, digits and `-`' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from register" -s o -l output -d 'Output format of `whoami` and `api-key`' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from register" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from register" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from register" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from register" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from register" -l password-stdin -d 'Read the password from the first line of standard input instead of asking'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from register" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from passwd" -s o -l output -d 'Output format of `whoami` and `api-key`' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from passwd" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from passwd" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from passwd" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from passwd" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from passwd" -l password-stdin -d 'Read the current password from the first line of standard input and the new one from the second'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from passwd" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from accept-invite" -s o -l output -d 'Output format of `whoami` and `api-key`' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from accept-invite" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from accept-invite" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from accept-invite" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from accept-invite" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from accept-invite" -l password-stdin -d 'Read the password from the first line of standard input instead of asking'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from accept-invite" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from api-key" -s o -l output -d 'Output format of `whoami` and `api-key`' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from api-key" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from api-key" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from api-key" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from api-key" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from api-key" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from api-key" -f -a "create" -d 'Create an API key and print it once'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from api-key" -f -a "list" -d 'List the tenant\'s API keys (never their secrets)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from api-key" -f -a "revoke" -d 'Revoke an API key: it stops working at once'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from api-key" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "login" -d 'Log in with an email and password and keep the tokens for this context'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "logout" -d 'End the session on the daemon and delete the saved login'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "whoami" -d 'Show who the credential in use stands for: user or key, tenant, role'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "register" -d 'Create a tenant with yourself as its admin (only where the daemon allows signup)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "passwd" -d 'Change your password (ends your other sessions)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "accept-invite" -d 'Accept an invitation: choose your password and log in'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "api-key" -d 'Create, list and revoke API keys (admins)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and not __fish_seen_subcommand_from add invite list set-role remove help" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and not __fish_seen_subcommand_from add invite list set-role remove help" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and not __fish_seen_subcommand_from add invite list set-role remove help" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and not __fish_seen_subcommand_from add invite list set-role remove help" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and not __fish_seen_subcommand_from add invite list set-role remove help" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and not __fish_seen_subcommand_from add invite list set-role remove help" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and not __fish_seen_subcommand_from add invite list set-role remove help" -f -a "add" -d 'Add a user with a first password (asked twice on a terminal)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and not __fish_seen_subcommand_from add invite list set-role remove help" -f -a "invite" -d 'Invite a user: prints a token (and the console\'s link) to pass on'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and not __fish_seen_subcommand_from add invite list set-role remove help" -f -a "list" -d 'List users and open invitations'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and not __fish_seen_subcommand_from add invite list set-role remove help" -f -a "set-role" -d 'Change a user\'s role (ends their sessions)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and not __fish_seen_subcommand_from add invite list set-role remove help" -f -a "remove" -d 'Remove a user (ends their sessions); asks first on a terminal'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and not __fish_seen_subcommand_from add invite list set-role remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from add" -l role -d 'What the user may do' -r -f -a "viewer\t''
operator\t''
admin\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from add" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from add" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from add" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from add" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from add" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from add" -l password-stdin -d 'Read the password from the first line of standard input instead of asking'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from invite" -l role -d 'What the user may do once they accept' -r -f -a "viewer\t''
operator\t''
admin\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from invite" -l expires -d 'How long the invitation can be accepted (default 7d, at most 30d)' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from invite" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from invite" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from invite" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from invite" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from invite" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from invite" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from list" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from list" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from list" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from list" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from set-role" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from set-role" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from set-role" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from set-role" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from set-role" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from set-role" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from remove" -s o -l output -d 'Output format' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from remove" -l url -d 'The daemon\'s base URL, e.g. https://uptime.example.com [env: UPTIMEPING_URL]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from remove" -l api-key -d 'The API key [env: UPTIMEPING_API_KEY]; prefer the variable or a context, since flags show in process lists' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from remove" -l context -d 'Use this context of the config file instead of the current one' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from remove" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from remove" -s y -l yes -d 'Remove without asking'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a user with a first password (asked twice on a terminal)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "invite" -d 'Invite a user: prints a token (and the console\'s link) to pass on'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "list" -d 'List users and open invitations'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "set-role" -d 'Change a user\'s role (ends their sessions)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a user (ends their sessions); asks first on a terminal'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and not __fish_seen_subcommand_from list use set delete help" -s o -l output -d 'Output format of `list`' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and not __fish_seen_subcommand_from list use set delete help" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and not __fish_seen_subcommand_from list use set delete help" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and not __fish_seen_subcommand_from list use set delete help" -f -a "list" -d 'List contexts; the current one is marked with *'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and not __fish_seen_subcommand_from list use set delete help" -f -a "use" -d 'Make a context the current one'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and not __fish_seen_subcommand_from list use set delete help" -f -a "set" -d 'Create or change a context; the first one made becomes current'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and not __fish_seen_subcommand_from list use set delete help" -f -a "delete" -d 'Delete a context'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and not __fish_seen_subcommand_from list use set delete help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format of `list`' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from list" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from use" -s o -l output -d 'Output format of `list`' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from use" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from use" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from set" -l url -d 'The daemon\'s base URL (needed for a new context)' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from set" -l api-key-file -d 'A file holding the API key, read each time it is used' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from set" -l api-key -d 'The API key itself, stored in the config file' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from set" -s o -l output -d 'Output format of `list`' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from set" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format of `list`' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from delete" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from help" -f -a "list" -d 'List contexts; the current one is marked with *'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from help" -f -a "use" -d 'Make a context the current one'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from help" -f -a "set" -d 'Create or change a context; the first one made becomes current'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a context'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand context; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand schema" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand schema" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and not __fish_seen_subcommand_from validate generate templates help" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and not __fish_seen_subcommand_from validate generate templates help" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and not __fish_seen_subcommand_from validate generate templates help" -f -a "validate" -d 'Compile .proto files (no protoc needed) and report what Forge can check'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and not __fish_seen_subcommand_from validate generate templates help" -f -a "generate" -d 'Generate check YAML (or a Rust crate) from .proto files'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and not __fish_seen_subcommand_from validate generate templates help" -f -a "templates" -d 'Work with the templates Forge renders'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and not __fish_seen_subcommand_from validate generate templates help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from validate" -l proto -d 'A .proto file to read; several may follow one flag (`--proto api/*.proto`)' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from validate" -s I -l import-path -d 'A directory imports are resolved against; each file must lie under one. Without it, the directory of each file. Repeatable' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from validate" -s o -l output -d 'Output format of the result' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from validate" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from validate" -l strict -d 'Exit with 1 when there are warnings'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from validate" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l proto -d 'A .proto file to read; several may follow one flag (`--proto api/*.proto`)' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -s I -l import-path -d 'A directory imports are resolved against; each file must lie under one. Without it, the directory of each file. Repeatable' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l target -d '`host:port` the checks call' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l interval -d 'How often each check runs' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l timeout -d 'Limit on one call; shorter than the interval' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l service -d 'Only this service (full or short name). Repeatable' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l method -d 'Only this method (`GetStatus` or `payments.v1.Payments/GetStatus`); leaves out the health checks. Repeatable' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l set -d 'A request value instead of the sampled one: `[METHOD:]FIELD.PATH=VALUE`, e.g. `GetStatus:payment_id=p-123` or `amount.units=250`. Repeatable' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l values -d 'A YAML file of request values: `{GetStatus: {payment_id: p-123}, "*": {…}}`. Applied before --set. Repeatable' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l format -d 'Format of the checks' -r -f -a "yaml\t''
json\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l lang -d 'What to generate: check files, or a Rust crate that makes the same calls' -r -f -a "yaml\t''
rust\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -s o -l out-dir -d 'Directory to write into (created if needed); standard output without it' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l crate-name -d '`--lang rust`: the crate\'s name; by default from the output directory' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l template-dir -d 'Render with the templates in DIR (see `forge templates export`); files missing there come from the built-in set' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l tls -d 'Speak TLS to the target'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l no-health -d 'No health check per service'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l include-writes -d 'Also generate checks for methods that may change data (delete, cancel, create, …); every run calls them. Skipped by default'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -l interactive -d 'Choose services, methods, target, interval and timeout at prompts, preview, then write; every choice has a flag too'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from generate" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from templates" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from templates" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from templates" -f -a "export" -d 'Write the built-in templates to a directory, to edit and use with --template-dir'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from templates" -f -a "list" -d 'List the names of the built-in templates, one a line'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from templates" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from help" -f -a "validate" -d 'Compile .proto files (no protoc needed) and report what Forge can check'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from help" -f -a "generate" -d 'Generate check YAML (or a Rust crate) from .proto files'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from help" -f -a "templates" -d 'Work with the templates Forge renders'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand forge; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand completions" -l man -d 'Write the man pages, one per command, to DIR (made if missing) instead' -r -f -a "(__fish_complete_directories)"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand completions" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand completions" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l listen -d 'Address for the API, metrics and health endpoints [default: 127.0.0.1:8080]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l data-dir -d 'Where the SQLite database and admin.key live [default: ./data]' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l store -d '`sqlite` (in the data directory) or postgres://USER[:PASSWORD]@HOST[:PORT]/DB [default: sqlite]; give a password through the environment or the config file, not on a command line others can read' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l node -d 'This daemon\'s name among the daemons sharing a PostgreSQL store; each needs its own [default: the host name]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l location -d 'Where this daemon probes from, e.g. eu-west; shown in `nodes list` and sent in probes\' User-Agent [default: default]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l watch -d 'Apply this directory of check files now and on every change (repeatable)' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l config -d 'TOML file with the same settings' -r -F
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l concurrency -d 'Checks running at once [default: 512]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l retention -d 'How long raw failed runs and changes of state are kept, e.g. 7d [default: 2d]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l retention-successes -d 'How long raw routine successes are kept [default: 1h]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l retention-minutes -d 'How long minute rollups are kept, at least 2h [default: 36h]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l retention-hours -d 'How long hour rollups are kept, at least 2d [default: 90d]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l retention-days -d 'How long day rollups are kept [default: 730d]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l shutdown-grace -d 'How long shutdown waits for checks in flight [default: 10s]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l log-format -d 'Log lines as text or JSON (to stderr) [default: text]' -r -f -a "text\t''
json\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l log-level -d 'Log filter, e.g. `info` or `uptimeping=debug` [default: info]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l notify-rate-limit -d 'Notifications one tenant may send, e.g. `50/s` or `600/min`, or `none`; providers\' and channels\' own limits apply as well [default: 50/s]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l login-limit-address -d 'Login attempts from one address (an IPv6 client by its /64), e.g. `10/min` or `30/h` [default: 10/min]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l login-limit-email -d 'Login attempts for one email, from anywhere; a fifth is kept for addresses that have not failed a login within the window [default: 100/min]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l public-url -d 'The daemon\'s URL as its users reach it, for links in notifications, e.g. https://uptime.example.com' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l access-token-ttl -d 'How long an access token works [default: 15m]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l refresh-token-ttl -d 'How long a refresh token (a CLI login) works [default: 7d]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l console-session-ttl -d 'How long a web console login lasts [default: 12h]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l retention-audit -d 'How long the audit log is kept, at least 1d [default: 90d]' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l trusted-proxy -d 'A reverse proxy (address or block, e.g. 10.0.0.0/8) whose X-Forwarded-For names the client, for the login limits and the audit log (repeatable)' -r
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -l allow-signup -d 'Let anyone register a new tenant with `uptimeping auth register` (off unless given)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand daemon" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "validate" -d 'Check files for errors without running anything'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "test" -d 'Run every check once from this machine and print the results'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "plan" -d 'Show what apply would change, without changing anything'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "apply" -d 'Apply the files (or a saved plan) to the daemon'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "checks" -d 'Inspect and control the checks a daemon runs'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "incidents" -d 'List, inspect, acknowledge, update and resolve incidents'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "report" -d 'Uptime, SLO, latency and incidents of the daemon\'s checks over a span'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "channels" -d 'List notification channels and send test messages'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "tenants" -d 'Manage tenants (admin keys of the first tenant only)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "nodes" -d 'Show the daemons sharing the checks (first tenant only)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "audit" -d 'Read the audit log: changes and security events (admins only)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "auth" -d 'Log in and out, see who you are, manage API keys'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "users" -d 'Add, invite, list and remove the tenant\'s users, and change their roles (admins)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "context" -d 'Manage named daemon connections (contexts)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "schema" -d 'Print the JSON Schema of check files'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "forge" -d 'Turn .proto files into checks: validate them, generate check YAML or a Rust crate'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "completions" -d 'Print a shell completion script, or write the man pages'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "daemon" -d 'Run checks on their schedules, open incidents, send alerts, serve the API'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply checks incidents report channels tenants nodes audit auth users context schema forge completions daemon help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from checks" -f -a "list" -d 'List checks with their last state'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from checks" -f -a "get" -d 'Show one check: its state and its spec (secrets masked)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from checks" -f -a "status" -d 'Show one check\'s current state'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from checks" -f -a "history" -d 'Show one check\'s latest results, newest first, or its history in buckets'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from checks" -f -a "run" -d 'Run one check now on the daemon and show the result'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from checks" -f -a "pause" -d 'Stop running a check until it is resumed'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from checks" -f -a "resume" -d 'Run a paused check again'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from checks" -f -a "delete" -d 'Delete a check from the daemon (an apply of its files brings it back)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from incidents" -f -a "list" -d 'List incidents, newest first'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from incidents" -f -a "get" -d 'Show one incident with its events and notifications'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from incidents" -f -a "ack" -d 'Acknowledge an incident: someone is on it, escalation stops'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from incidents" -f -a "update" -d 'Post an update on an incident: its channels get it, status pages show it'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from incidents" -f -a "resolve" -d 'Resolve an incident by hand'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from channels" -f -a "list" -d 'List channels with how many notifications were sent, failed and are pending'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from channels" -f -a "get" -d 'Show one channel: its settings (secrets masked) and delivery counts'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from channels" -f -a "test" -d 'Send a test notification through a channel and wait for the outcome (exit 1 if not delivered)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from tenants" -f -a "create" -d 'Create a tenant and print its admin API key'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from nodes" -f -a "list" -d 'List nodes: name, location, last heartbeat, checks owned'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "list" -d 'List audit entries, newest first'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "login" -d 'Log in with an email and password and keep the tokens for this context'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "logout" -d 'End the session on the daemon and delete the saved login'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "whoami" -d 'Show who the credential in use stands for: user or key, tenant, role'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "register" -d 'Create a tenant with yourself as its admin (only where the daemon allows signup)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "passwd" -d 'Change your password (ends your other sessions)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "accept-invite" -d 'Accept an invitation: choose your password and log in'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "api-key" -d 'Create, list and revoke API keys (admins)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "add" -d 'Add a user with a first password (asked twice on a terminal)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "invite" -d 'Invite a user: prints a token (and the console\'s link) to pass on'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "list" -d 'List users and open invitations'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "set-role" -d 'Change a user\'s role (ends their sessions)'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "remove" -d 'Remove a user (ends their sessions); asks first on a terminal'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from context" -f -a "list" -d 'List contexts; the current one is marked with *'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from context" -f -a "use" -d 'Make a context the current one'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from context" -f -a "set" -d 'Create or change a context; the first one made becomes current'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from context" -f -a "delete" -d 'Delete a context'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from forge" -f -a "validate" -d 'Compile .proto files (no protoc needed) and report what Forge can check'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from forge" -f -a "generate" -d 'Generate check YAML (or a Rust crate) from .proto files'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and __fish_seen_subcommand_from forge" -f -a "templates" -d 'Work with the templates Forge renders'
