/** `zeroplane completion bash|zsh|fish`: prints a completion script generated from the command tree. */
import { Argument, type Command } from "commander";
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from "../completion.js";
import { action } from "../shared.js";

export function register(program: Command): void {
  program
    .command("completion")
    .description("print a shell completion script: source <(zeroplane completion bash)")
    .addArgument(new Argument("<shell>", "the shell").choices([...COMPLETION_SHELLS]))
    .addHelpText(
      "after",
      `
Install:
  bash  echo 'source <(zeroplane completion bash)' >> ~/.bashrc
  zsh   echo 'source <(zeroplane completion zsh)' >> ~/.zshrc   (after compinit)
  fish  zeroplane completion fish > ~/.config/fish/completions/zeroplane.fish`,
    )
    .action(
      action(async (shell: CompletionShell) => {
        process.stdout.write(completionScript(shell, program));
      }),
    );
}
