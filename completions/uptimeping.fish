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
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "schema" -d 'Print the JSON Schema of check files'
complete -c uptimeping -n "__fish_uptimeping_needs_command" -f -a "completions" -d 'Print a shell completion script'
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
complete -c uptimeping -n "__fish_uptimeping_using_subcommand schema" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand schema" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand completions" -l color -d 'When to colour output; NO_COLOR in the environment turns it off too' -r -f -a "auto\t''
always\t''
never\t''"
complete -c uptimeping -n "__fish_uptimeping_using_subcommand completions" -s h -l help -d 'Print help'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply schema completions help" -f -a "validate" -d 'Check files for errors without running anything'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply schema completions help" -f -a "test" -d 'Run every check once from this machine and print the results'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply schema completions help" -f -a "plan" -d 'Show what apply would change, without changing anything'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply schema completions help" -f -a "apply" -d 'Apply the files (or a saved plan) to the daemon'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply schema completions help" -f -a "schema" -d 'Print the JSON Schema of check files'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply schema completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c uptimeping -n "__fish_uptimeping_using_subcommand help; and not __fish_seen_subcommand_from validate test plan apply schema completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
