# fish completion for fwc (generated from its command definitions: fwc completion fish)
complete -c fwc -f
complete -c fwc -n __fish_use_subcommand -a agent -d 'make one gateway follow the state in etcd, until SIGTERM (docs/etcd.md)'
complete -c fwc -n __fish_use_subcommand -a block -d 'the operator'\''s blocklist: drop traffic from and to these networks, before any grant'
complete -c fwc -n __fish_use_subcommand -a blocks -d 'list the blocklist'
complete -c fwc -n __fish_use_subcommand -a check -d 'evaluate NS files as Emulab does and report every problem with file:line:col'
complete -c fwc -n __fish_use_subcommand -a check-config -d 'check a testbed.yaml (and node addresses files) without compiling an experiment'
complete -c fwc -n __fish_use_subcommand -a close -d 'revoke grants made with open, and cut their open connections'
complete -c fwc -n __fish_use_subcommand -a compile -d 'compile an NS file'\''s external access: the AccessPolicy, endpoint listing, exposure diagram, gateway ruleset or DNS records'
complete -c fwc -n __fish_use_subcommand -a completion -d 'print the completion script of a shell: fwc completion bash > /etc/bash_completion.d/fwc'
complete -c fwc -n __fish_use_subcommand -a env -d 'print GLOBUS_TCP_PORT_RANGE and GLOBUS_HOSTNAME for a node'\''s identity range'
complete -c fwc -n __fish_use_subcommand -a explain -d 'explain a diagnostic code: what it means and how to fix it (FWC515, or 515)'
complete -c fwc -n __fish_use_subcommand -a init -d 'set up a gateway'\''s state directory: a commented testbed.yaml and an empty store'
complete -c fwc -n __fish_use_subcommand -a inspect -d 'print the evaluated topology and tb-allow-external calls'
complete -c fwc -n __fish_use_subcommand -a modify -d 'swap-modify: apply the changed NS file (a file with tb-allow-external calls replaces open grants)'
complete -c fwc -n __fish_use_subcommand -a open -d 'grant access to a running experiment (with --json: g5kfw openings on standard input)'
complete -c fwc -n __fish_use_subcommand -a reconcile -d 'put the gateway back in step with the state (after drift or a crash)'
complete -c fwc -n __fish_use_subcommand -a serve -d 'the service: REST API, web page and metrics over the same commands (docs/service.md)'
complete -c fwc -n __fish_use_subcommand -a status -d 'endpoints of the experiments on the gateway, and any drift between the gateway and the state'
complete -c fwc -n __fish_use_subcommand -a swapin -d 'put an experiment'\''s access on the gateway (and DNS) at swap-in, and print its endpoints'
complete -c fwc -n __fish_use_subcommand -a swapout -d 'remove an experiment'\''s access from the gateway and DNS'
complete -c fwc -n __fish_use_subcommand -a unblock -d 'remove networks from the blocklist (with the --proto and --port they were blocked with)'
complete -c fwc -n '__fish_seen_subcommand_from agent' -l gateway -d 'this gateway'\''s name in the reports (fwc status)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from agent' -l state -d 'where testbed.yaml is (default: $FWC_STATE or /var/lib/fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from agent' -l testbed -d 'testbed configuration, YAML, with store.etcd (default: <state>/testbed.yaml)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from agent' -l netns -d 'the gateway is inside this network namespace' -r -F
complete -c fwc -n '__fish_seen_subcommand_from agent' -l dns -d 'write DNS too (exactly one agent; testbed.yaml says store.etcd.dns: agent)'
complete -c fwc -n '__fish_seen_subcommand_from agent' -l resync -d 'how often the kernel is compared with etcd and drift repaired (default: 30s)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from agent' -l lease -d 'the report'\''s lease: silent longer, the agent is taken for gone (default: 10s)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from agent' -l status-file -d 'a JSON file kept up to date with the revision applied and staleness' -r -F
complete -c fwc -n '__fish_seen_subcommand_from agent' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from block' -l reason -d 'why (kept with the entry, shown by fwc blocks and fwc status)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from block' -l proto -d 'block only tcp, udp or tcp+udp (default: every protocol)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from block' -l port -d 'block only this service port or range (8000..8100); default tcp+udp' -r -F
complete -c fwc -n '__fish_seen_subcommand_from block' -l state -d 'the state directory (default: $FWC_STATE or /var/lib/fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from block' -l testbed -d 'testbed configuration, YAML (default: <state>/testbed.yaml)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from block' -l netns -d 'act on the gateway inside this network namespace' -r -F
complete -c fwc -n '__fish_seen_subcommand_from block' -l dry-run -d 'print a preview of the endpoints that change, then the nft transaction (and DNS update), and apply nothing'
complete -c fwc -n '__fish_seen_subcommand_from block' -l json -d 'print JSON'
complete -c fwc -n '__fish_seen_subcommand_from block' -l wait -d 'how long to wait for another fwc holding the store'\''s write lock (default: 10)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from block' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from blocks' -l state -d 'the state directory (default: $FWC_STATE or /var/lib/fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from blocks' -l testbed -d 'testbed configuration, YAML (default: <state>/testbed.yaml)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from blocks' -l netns -d 'act on the gateway inside this network namespace' -r -F
complete -c fwc -n '__fish_seen_subcommand_from blocks' -l json -d 'print JSON'
complete -c fwc -n '__fish_seen_subcommand_from blocks' -l wait -d 'how long to wait for another fwc holding the store'\''s write lock (default: 10)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from blocks' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from check' -l format -d 'output format' -xa 'text json sarif'
complete -c fwc -n '__fish_seen_subcommand_from check' -l strict -d 'treat warnings as errors'
complete -c fwc -n '__fish_seen_subcommand_from check' -l stdin-filename -d 'the name to report for standard input (-), as editors and CI pass it' -r -F
complete -c fwc -n '__fish_seen_subcommand_from check' -l catalog -d 'check hardware types, OS images, storage classes and services against this catalog' -r -F
complete -c fwc -n '__fish_seen_subcommand_from check' -l testbed -d 'testbed.yaml: check against its catalog (catalog: or catalog_file:)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from check' -l max-steps -d 'stop evaluating after this many Tcl commands (default: 5000000)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from check' -l max-depth -d 'deepest nesting of procs, eval and [...] (default: 1000)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from check' -l max-string -d 'longest value allowed, in characters (default: 16777216)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from check' -l max-seconds -d 'stop evaluating after this many seconds (default: 5)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from check' -l max-memory -d 'stop evaluating when it holds more than this many megabytes (default: 1024)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from check' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from check-config' -l state -d 'the state directory (default: $FWC_STATE or /var/lib/fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from check-config' -l testbed -d 'testbed configuration, YAML (default: <state>/testbed.yaml)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from check-config' -l nodes -d 'node addresses files (JSON) to check against the testbed' -r -F
complete -c fwc -n '__fish_seen_subcommand_from check-config' -l format -d 'output format' -xa 'text json'
complete -c fwc -n '__fish_seen_subcommand_from check-config' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from close' -l exp -d 'the experiment (required)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from close' -l all -d 'revoke every grant made with open'
complete -c fwc -n '__fish_seen_subcommand_from close' -l rdr -d 'inbound targets, as in tb-allow-external ("web/80 db,5432")' -r -F
complete -c fwc -n '__fish_seen_subcommand_from close' -l nat -d 'outbound targets, as in tb-allow-external' -r -F
complete -c fwc -n '__fish_seen_subcommand_from close' -l open6 -d 'direct IPv6 openings, as in tb-allow-external' -r -F
complete -c fwc -n '__fish_seen_subcommand_from close' -l node -d 'the node that targets without a node ("22") mean' -r -F
complete -c fwc -n '__fish_seen_subcommand_from close' -l state -d 'the state directory (default: $FWC_STATE or /var/lib/fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from close' -l testbed -d 'testbed configuration, YAML (default: <state>/testbed.yaml)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from close' -l netns -d 'act on the gateway inside this network namespace' -r -F
complete -c fwc -n '__fish_seen_subcommand_from close' -l dry-run -d 'print a preview of the endpoints that change, then the nft transaction (and DNS update), and apply nothing'
complete -c fwc -n '__fish_seen_subcommand_from close' -l json -d 'print JSON'
complete -c fwc -n '__fish_seen_subcommand_from close' -l wait -d 'how long to wait for another fwc holding the store'\''s write lock (default: 10)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from close' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from compile' -l emit -d 'default: table, or ir for a file given alone (no --exp, --testbed, --nodes). ir: the AccessPolicy; endpoints: the endpoint listing (JSON); table: the listing for people; svg: the exposure diagram; nft: the gateway ruleset; nft-json: the same for nft -j -f; dns: the DNS records for $INCLUDE; zone: a complete zone; nsupdate: the DNS changes from the deployed state' -xa 'ir endpoints table svg nft nft-json dns zone nsupdate'
complete -c fwc -n '__fish_seen_subcommand_from compile' -l exp -d 'the experiment (needed for every kind but ir)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from compile' -l testbed -d 'testbed configuration, YAML' -r -F
complete -c fwc -n '__fish_seen_subcommand_from compile' -l nodes -d 'node addresses, JSON' -r -F
complete -c fwc -n '__fish_seen_subcommand_from compile' -l state -d 'the state directory of the deploy commands, for allocations, DNS and the blocklist; read only' -r -F
complete -c fwc -n '__fish_seen_subcommand_from compile' -l output -d 'write to this file instead of standard output' -r -F
complete -c fwc -n '__fish_seen_subcommand_from compile' -l max-steps -d 'stop evaluating after this many Tcl commands (default: 5000000)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from compile' -l max-depth -d 'deepest nesting of procs, eval and [...] (default: 1000)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from compile' -l max-string -d 'longest value allowed, in characters (default: 16777216)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from compile' -l max-seconds -d 'stop evaluating after this many seconds (default: 5)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from compile' -l max-memory -d 'stop evaluating when it holds more than this many megabytes (default: 1024)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from compile' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from env' -l exp -d 'the experiment (required)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from env' -l node -d 'the node (needed when several have identity ranges)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from env' -l state -d 'the state directory (default: $FWC_STATE or /var/lib/fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from env' -l testbed -d 'testbed configuration, YAML (default: <state>/testbed.yaml)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from env' -l netns -d 'act on the gateway inside this network namespace' -r -F
complete -c fwc -n '__fish_seen_subcommand_from env' -l json -d 'print JSON'
complete -c fwc -n '__fish_seen_subcommand_from env' -l wait -d 'how long to wait for another fwc holding the store'\''s write lock (default: 10)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from env' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from explain' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from init' -l state -d 'the state directory to make (default: $FWC_STATE or /var/lib/fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from init' -l domain -d 'experiments get names under <eid>.<pid>.<domain> (default: testbed.example.net)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from init' -l gateway-name -d 'the gateway'\''s host name (default: gw.<domain>)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from init' -l ipv4 -d 'the gateway'\''s shared public IPv4 address' -r -F
complete -c fwc -n '__fish_seen_subcommand_from init' -l ipv6 -d 'the gateway'\''s public IPv6 address (optional)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from init' -l outside -d 'the interface toward the Internet (default: eth0)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from init' -l inside -d 'the interfaces toward the nodes, comma-separated (default: eth1)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from init' -l ports -d 'external ports for shared redirects (default: 20000-29999)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from init' -l netns -d 'the gateway is inside this network namespace (tests, demos)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from init' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from inspect' -l json -d 'print JSON (the documented contract)'
complete -c fwc -n '__fish_seen_subcommand_from inspect' -l max-steps -d 'stop evaluating after this many Tcl commands (default: 5000000)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from inspect' -l max-depth -d 'deepest nesting of procs, eval and [...] (default: 1000)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from inspect' -l max-string -d 'longest value allowed, in characters (default: 16777216)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from inspect' -l max-seconds -d 'stop evaluating after this many seconds (default: 5)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from inspect' -l max-memory -d 'stop evaluating when it holds more than this many megabytes (default: 1024)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from inspect' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from modify' -l exp -d 'the experiment (required)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from modify' -l nodes -d 'node addresses, JSON (default: those of the swapin)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from modify' -l state -d 'the state directory (default: $FWC_STATE or /var/lib/fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from modify' -l testbed -d 'testbed configuration, YAML (default: <state>/testbed.yaml)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from modify' -l netns -d 'act on the gateway inside this network namespace' -r -F
complete -c fwc -n '__fish_seen_subcommand_from modify' -l dry-run -d 'print a preview of the endpoints that change, then the nft transaction (and DNS update), and apply nothing'
complete -c fwc -n '__fish_seen_subcommand_from modify' -l json -d 'print JSON'
complete -c fwc -n '__fish_seen_subcommand_from modify' -l wait -d 'how long to wait for another fwc holding the store'\''s write lock (default: 10)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from modify' -l max-steps -d 'stop evaluating after this many Tcl commands (default: 5000000)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from modify' -l max-depth -d 'deepest nesting of procs, eval and [...] (default: 1000)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from modify' -l max-string -d 'longest value allowed, in characters (default: 16777216)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from modify' -l max-seconds -d 'stop evaluating after this many seconds (default: 5)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from modify' -l max-memory -d 'stop evaluating when it holds more than this many megabytes (default: 1024)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from modify' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from open' -l exp -d 'the experiment (required)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from open' -l for -d 'the grants end after this long (90s, 30m, 2h, 1d, 1h30m); fwc reconcile removes them then' -r -F
complete -c fwc -n '__fish_seen_subcommand_from open' -l rdr -d 'inbound targets, as in tb-allow-external ("web/80 db,5432")' -r -F
complete -c fwc -n '__fish_seen_subcommand_from open' -l nat -d 'outbound targets, as in tb-allow-external' -r -F
complete -c fwc -n '__fish_seen_subcommand_from open' -l open6 -d 'direct IPv6 openings, as in tb-allow-external' -r -F
complete -c fwc -n '__fish_seen_subcommand_from open' -l node -d 'the node that targets without a node ("22") mean' -r -F
complete -c fwc -n '__fish_seen_subcommand_from open' -l state -d 'the state directory (default: $FWC_STATE or /var/lib/fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from open' -l testbed -d 'testbed configuration, YAML (default: <state>/testbed.yaml)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from open' -l netns -d 'act on the gateway inside this network namespace' -r -F
complete -c fwc -n '__fish_seen_subcommand_from open' -l dry-run -d 'print a preview of the endpoints that change, then the nft transaction (and DNS update), and apply nothing'
complete -c fwc -n '__fish_seen_subcommand_from open' -l json -d 'print JSON'
complete -c fwc -n '__fish_seen_subcommand_from open' -l wait -d 'how long to wait for another fwc holding the store'\''s write lock (default: 10)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from open' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from reconcile' -l state -d 'the state directory (default: $FWC_STATE or /var/lib/fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from reconcile' -l testbed -d 'testbed configuration, YAML (default: <state>/testbed.yaml)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from reconcile' -l netns -d 'act on the gateway inside this network namespace' -r -F
complete -c fwc -n '__fish_seen_subcommand_from reconcile' -l dry-run -d 'print a preview of the endpoints that change, then the nft transaction (and DNS update), and apply nothing'
complete -c fwc -n '__fish_seen_subcommand_from reconcile' -l json -d 'print JSON'
complete -c fwc -n '__fish_seen_subcommand_from reconcile' -l wait -d 'how long to wait for another fwc holding the store'\''s write lock (default: 10)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from reconcile' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from serve' -l listen -d 'where to listen (default: 127.0.0.1:8700)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from serve' -l users -d 'the users file, YAML: names, token SHA-256s, projects, admin' -r -F
complete -c fwc -n '__fish_seen_subcommand_from serve' -l state -d 'the state directory (default: $FWC_STATE or /var/lib/fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from serve' -l testbed -d 'testbed configuration, YAML (default: <state>/testbed.yaml)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from serve' -l netns -d 'act on the gateway inside this network namespace' -r -F
complete -c fwc -n '__fish_seen_subcommand_from serve' -l wait -d 'how long a change waits for a command holding the store'\''s write lock (default: 10)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from serve' -l body-limit -d 'the largest request body taken (default: 65536)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from serve' -l web -d 'the web page'\''s files (default: the built ones beside fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from serve' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from status' -l exp -d 'one experiment' -r -F
complete -c fwc -n '__fish_seen_subcommand_from status' -l state -d 'the state directory (default: $FWC_STATE or /var/lib/fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from status' -l testbed -d 'testbed configuration, YAML (default: <state>/testbed.yaml)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from status' -l netns -d 'act on the gateway inside this network namespace' -r -F
complete -c fwc -n '__fish_seen_subcommand_from status' -l json -d 'print JSON'
complete -c fwc -n '__fish_seen_subcommand_from status' -l wait -d 'how long to wait for another fwc holding the store'\''s write lock (default: 10)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from status' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from swapin' -l exp -d 'the experiment (required)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapin' -l nodes -d 'node addresses, JSON' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapin' -l state -d 'the state directory (default: $FWC_STATE or /var/lib/fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapin' -l testbed -d 'testbed configuration, YAML (default: <state>/testbed.yaml)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapin' -l netns -d 'act on the gateway inside this network namespace' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapin' -l dry-run -d 'print a preview of the endpoints that change, then the nft transaction (and DNS update), and apply nothing'
complete -c fwc -n '__fish_seen_subcommand_from swapin' -l json -d 'print JSON'
complete -c fwc -n '__fish_seen_subcommand_from swapin' -l wait -d 'how long to wait for another fwc holding the store'\''s write lock (default: 10)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapin' -l max-steps -d 'stop evaluating after this many Tcl commands (default: 5000000)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapin' -l max-depth -d 'deepest nesting of procs, eval and [...] (default: 1000)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapin' -l max-string -d 'longest value allowed, in characters (default: 16777216)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapin' -l max-seconds -d 'stop evaluating after this many seconds (default: 5)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapin' -l max-memory -d 'stop evaluating when it holds more than this many megabytes (default: 1024)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapin' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from swapout' -l exp -d 'the experiment (required)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapout' -l state -d 'the state directory (default: $FWC_STATE or /var/lib/fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapout' -l testbed -d 'testbed configuration, YAML (default: <state>/testbed.yaml)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapout' -l netns -d 'act on the gateway inside this network namespace' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapout' -l dry-run -d 'print a preview of the endpoints that change, then the nft transaction (and DNS update), and apply nothing'
complete -c fwc -n '__fish_seen_subcommand_from swapout' -l json -d 'print JSON'
complete -c fwc -n '__fish_seen_subcommand_from swapout' -l wait -d 'how long to wait for another fwc holding the store'\''s write lock (default: 10)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from swapout' -l color -d 'colour the output' -xa 'auto always never'
complete -c fwc -n '__fish_seen_subcommand_from unblock' -l proto -d 'the protocol of the entry' -r -F
complete -c fwc -n '__fish_seen_subcommand_from unblock' -l port -d 'the port or range of the entry' -r -F
complete -c fwc -n '__fish_seen_subcommand_from unblock' -l state -d 'the state directory (default: $FWC_STATE or /var/lib/fwc)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from unblock' -l testbed -d 'testbed configuration, YAML (default: <state>/testbed.yaml)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from unblock' -l netns -d 'act on the gateway inside this network namespace' -r -F
complete -c fwc -n '__fish_seen_subcommand_from unblock' -l dry-run -d 'print a preview of the endpoints that change, then the nft transaction (and DNS update), and apply nothing'
complete -c fwc -n '__fish_seen_subcommand_from unblock' -l json -d 'print JSON'
complete -c fwc -n '__fish_seen_subcommand_from unblock' -l wait -d 'how long to wait for another fwc holding the store'\''s write lock (default: 10)' -r -F
complete -c fwc -n '__fish_seen_subcommand_from unblock' -l color -d 'colour the output' -xa 'auto always never'
