# bash completion for reclaimctl
_reclaimctl()
{
	# Plain COMP_WORDS, so it works without the bash-completion package.
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local words=("${COMP_WORDS[@]}") cword=$COMP_CWORD

	local commands="census collect debug diff garbage reload run snapshot stats tasks thresholds top watchdog"
	local i cmd="" nargs=0
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-S | --socket) ((i++)) ;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${words[i]}
			else
				((nargs++))
			fi
			;;
		esac
	done

	if [[ $prev == -S || $prev == --socket ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
		return
	fi
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-S --socket --json --help --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi
	case $cmd in
	collect) ((nargs == 0)) && COMPREPLY=($(compgen -W "0 1 2" -- "$cur")) ;;
	debug)
		case $nargs in
		0) COMPREPLY=($(compgen -W "leak" -- "$cur")) ;;
		1) COMPREPLY=($(compgen -W "on off" -- "$cur")) ;;
		esac
		;;
	thresholds) ((nargs == 0)) && COMPREPLY=($(compgen -W "700,10,10" -- "$cur")) ;;
	top) COMPREPLY=($(compgen -W "--once --json" -- "$cur")) ;;
	garbage)
		if [[ $prev == --by ]]; then
			COMPREPLY=($(compgen -W "route type cycle" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "--by --check --json" -- "$cur"))
		fi
		;;
	run)
		if ((nargs == 0)); then
			local tasks
			tasks=$("${words[0]}" --json tasks 2>/dev/null |
				sed -n 's/.*"name":[[:space:]]*"\([^"]*\)".*/\1/p')
			COMPREPLY=($(compgen -W "$tasks" -- "$cur"))
		fi
		;;
	*) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
	esac
} &&
	complete -F _reclaimctl reclaimctl
