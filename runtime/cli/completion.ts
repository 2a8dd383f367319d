/**
 * Shell completion scripts (`zeroplane completion bash|zsh|fish`), generated from the Commander
 * program itself, so a new command or flag is completed without anyone editing the scripts.
 */
import type { Command, Option } from "commander";

export const COMPLETION_SHELLS = ["bash", "zsh", "fish"] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** One command as completion sees it: its flags, the value choices of some, and its subcommands. */
export interface CompletionNode {
  readonly name: string;
  readonly description: string;
  /** Every spelling: `--dir`, `-d`. */
  readonly flags: readonly string[];
  /** Values its arguments may take, when Commander knows them (`completion bash|zsh|fish`). */
  readonly argumentChoices: readonly string[];
  /** Flags that take a value, with their choices when Commander knows them ([] = any value). */
  readonly values: ReadonlyMap<string, readonly string[]>;
  readonly subcommands: readonly CompletionNode[];
}

function flagNames(option: Option): string[] {
  return [option.long, option.short].filter((flag): flag is string => Boolean(flag));
}

/** The completion tree of a command (the program, at the top). */
export function completionTree(command: Command): CompletionNode {
  const options = command.options as Option[];
  const values = new Map<string, readonly string[]>();
  for (const option of options) {
    if (!option.required && !option.optional) continue;
    for (const flag of flagNames(option)) values.set(flag, option.argChoices ?? []);
  }
  return {
    name: command.name(),
    description: command.description().split("\n")[0] ?? "",
    flags: [...options.flatMap(flagNames), "--help"],
    argumentChoices: command.registeredArguments.flatMap((argument) => argument.argChoices ?? []),
    values,
    subcommands: command.commands
      .filter((sub) => !(sub as { _hidden?: boolean })._hidden)
      .map(completionTree),
  };
}

/** Every command path below the top: `["up"], ["context"], ["context", "list"], ...`. */
function paths(node: CompletionNode, prefix: string[] = []): Array<[string[], CompletionNode]> {
  return node.subcommands.flatMap((sub) => [
    [[...prefix, sub.name], sub] as [string[], CompletionNode],
    ...paths(sub, [...prefix, sub.name]),
  ]);
}

const shellWords = (words: readonly string[]) => words.join(" ");
/** Single-quoted for sh and fish: descriptions may hold anything. */
const quote = (text: string) => `'${text.replace(/'/g, "'\\''")}'`;

/**
 * The sh code (bash and zsh alike) that finds the command path: a loop over the words before the cursor
 * (`words` from `first` below `last`, as the shell names them), then a case on the path with one branch
 * per command, whose body `branch` writes.
 */
function pathDispatch(
  root: CompletionNode,
  loop: { words: string; first: number; last: string },
  branch: (node: CompletionNode) => string,
): string {
  const cases = [[[], root] as [string[], CompletionNode], ...paths(root)].map(
    ([path, node]) => `    ${quote(path.join(" "))})\n${branch(node)}\n      ;;`,
  );
  return `  # The command path so far: the words that name subcommands (flags and their values are skipped).
  for ((i = ${loop.first}; i < ${loop.last}; i++)); do
    word="\${${loop.words}[i]}"
    [[ "$word" == -- ]] && return 0
    case "\${cmdpath:+$cmdpath }$word" in
${paths(root)
  .map(([path]) => `      ${quote(path.join(" "))}) cmdpath="\${cmdpath:+$cmdpath }$word" ;;`)
  .join("\n")}
    esac
  done
  case "$cmdpath" in
${cases.join("\n")}
    *) return 0 ;;
  esac`;
}

/** A `case "$prev"` that completes a flag's value (`lines` are its branches), or nothing. */
const valueCase = (lines: string[]) => `      case "$prev" in
${lines.join("\n") || "        __none__) ;;"}
      esac`;

function bash(root: CompletionNode, program: string): string {
  const fn = `_${program.replace(/[^A-Za-z0-9_]/g, "_")}_complete`;
  const dispatch = pathDispatch(root, { words: "COMP_WORDS", first: 1, last: "COMP_CWORD" }, (node) =>
    [
      valueCase(
        [...node.values].map(
          ([flag, choices]) =>
            `        ${flag}) COMPREPLY=($(compgen -W ${quote(shellWords(choices))} -- "$cur")); return ;;`,
        ),
      ),
      `      words=${quote(shellWords([...node.subcommands.map((s) => s.name), ...node.argumentChoices, ...node.flags]))}`,
    ].join("\n"),
  );
  return `# ${program} completion for bash: source <(${program} completion bash)
${fn}() {
  local cur prev cmdpath word words i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmdpath=""
${dispatch}
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F ${fn} ${program}
`;
}

function zsh(root: CompletionNode, program: string): string {
  const fn = `_${program.replace(/[^A-Za-z0-9_]/g, "_")}`;
  const dispatch = pathDispatch(root, { words: "words", first: 2, last: "CURRENT" }, (node) => {
    const commands = node.subcommands.map((s) => quote(`${s.name}:${s.description}`)).join(" ");
    return [
      valueCase(
        [...node.values]
          .filter(([, choices]) => choices.length > 0)
          .map(([flag, choices]) => `        ${flag}) compadd -- ${choices.map(quote).join(" ")}; return ;;`),
      ),
      `      ${commands ? `subcommands=(${commands}); _describe command subcommands` : ":"}`,
      `      compadd -- ${[...node.argumentChoices, ...node.flags].map(quote).join(" ")}`,
    ].join("\n");
  });
  return `#compdef ${program}
# ${program} completion for zsh: source <(${program} completion zsh)
${fn}() {
  local cmdpath="" word prev="\${words[CURRENT-1]}" i
  local -a subcommands
${dispatch}
}
compdef ${fn} ${program}
`;
}

function fish(root: CompletionNode, program: string): string {
  const lines = [
    `# ${program} completion for fish: ${program} completion fish | source`,
    `complete -c ${program} -f`,
  ];
  const describe = (node: CompletionNode, condition: string) => {
    for (const choice of node.argumentChoices)
      lines.push(`complete -c ${program} -n ${quote(condition)} -a ${choice}`);
    for (const sub of node.subcommands) {
      lines.push(`complete -c ${program} -n ${quote(condition)} -a ${sub.name} -d ${quote(sub.description)}`);
    }
    for (const flag of node.flags) {
      const spec = flag.startsWith("--") ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`;
      const choices = node.values.get(flag);
      const value =
        choices === undefined ? "" : choices.length ? ` -x -a ${quote(shellWords(choices))}` : " -r";
      lines.push(`complete -c ${program} -n ${quote(condition)} ${spec}${value}`);
    }
  };
  describe(root, "__fish_use_subcommand");
  for (const [path, node] of paths(root)) {
    // Seen this path's last word, and none of its subcommands yet.
    const below = node.subcommands.map((sub) => sub.name);
    const seen = path.map((word) => `__fish_seen_subcommand_from ${word}`).join("; and ");
    describe(node, below.length ? `${seen}; and not __fish_seen_subcommand_from ${below.join(" ")}` : seen);
  }
  return `${lines.join("\n")}\n`;
}

/** The completion script of `program` for `shell`. */
export function completionScript(shell: CompletionShell, program: Command): string {
  const tree = completionTree(program);
  const generate = { bash, zsh, fish }[shell];
  return generate(tree, program.name());
}
