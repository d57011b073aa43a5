# bash completion for fwc (generated from its command definitions: fwc completion bash)
_fwc() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W 'agent block blocks check check-config close compile completion env explain init inspect modify open reconcile serve status swapin swapout unblock' -- "$cur") )
    return
  fi
  case "${COMP_WORDS[1]} $prev" in
    'agent --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'block --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'blocks --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'check --format') COMPREPLY=( $(compgen -W 'text json sarif' -- "$cur") ); return ;;
    'check --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'check-config --format') COMPREPLY=( $(compgen -W 'text json' -- "$cur") ); return ;;
    'check-config --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'close --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'compile --emit') COMPREPLY=( $(compgen -W 'ir endpoints table svg nft nft-json dns zone nsupdate' -- "$cur") ); return ;;
    'compile --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'env --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'explain --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'init --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'inspect --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'modify --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'open --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'reconcile --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'serve --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'status --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'swapin --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'swapout --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
    'unblock --color') COMPREPLY=( $(compgen -W 'auto always never' -- "$cur") ); return ;;
  esac
  case "${COMP_WORDS[1]}" in
    'agent') COMPREPLY=( $(compgen -W '--gateway --state --testbed --netns --dns --resync --lease --status-file --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'block') COMPREPLY=( $(compgen -W '--reason --proto --port --state --testbed --netns --dry-run --json --wait --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'blocks') COMPREPLY=( $(compgen -W '--state --testbed --netns --json --wait --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'check') COMPREPLY=( $(compgen -W '--format --strict --stdin-filename --catalog --testbed --max-steps --max-depth --max-string --max-seconds --max-memory --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'check-config') COMPREPLY=( $(compgen -W '--state --testbed --nodes --format --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'close') COMPREPLY=( $(compgen -W '--exp --all --rdr --nat --open6 --node --state --testbed --netns --dry-run --json --wait --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'compile') COMPREPLY=( $(compgen -W '--emit --exp --testbed --nodes --state --output --max-steps --max-depth --max-string --max-seconds --max-memory --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'completion') COMPREPLY=( $(compgen -W '' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'env') COMPREPLY=( $(compgen -W '--exp --node --state --testbed --netns --json --wait --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'explain') COMPREPLY=( $(compgen -W '--color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'init') COMPREPLY=( $(compgen -W '--state --domain --gateway-name --ipv4 --ipv6 --outside --inside --ports --netns --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'inspect') COMPREPLY=( $(compgen -W '--json --max-steps --max-depth --max-string --max-seconds --max-memory --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'modify') COMPREPLY=( $(compgen -W '--exp --nodes --state --testbed --netns --dry-run --json --wait --max-steps --max-depth --max-string --max-seconds --max-memory --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'open') COMPREPLY=( $(compgen -W '--exp --for --rdr --nat --open6 --node --state --testbed --netns --dry-run --json --wait --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'reconcile') COMPREPLY=( $(compgen -W '--state --testbed --netns --dry-run --json --wait --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'serve') COMPREPLY=( $(compgen -W '--listen --users --state --testbed --netns --wait --body-limit --web --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'status') COMPREPLY=( $(compgen -W '--exp --state --testbed --netns --json --wait --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'swapin') COMPREPLY=( $(compgen -W '--exp --nodes --state --testbed --netns --dry-run --json --wait --max-steps --max-depth --max-string --max-seconds --max-memory --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'swapout') COMPREPLY=( $(compgen -W '--exp --state --testbed --netns --dry-run --json --wait --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
    'unblock') COMPREPLY=( $(compgen -W '--proto --port --state --testbed --netns --dry-run --json --wait --color' -- "$cur") $(compgen -f -- "$cur") ) ;;
  esac
}
complete -o filenames -F _fwc fwc
