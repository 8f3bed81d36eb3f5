// `strata chat [MODEL_DIR] [--system TEXT] [sampling flags]`: an interactive conversation in the
// terminal. Each turn is rendered with the model's chat template (or, without one, a plain
// "User:/Assistant:" transcript), streamed as it is generated, and continues from the stored state of
// the previous turn, so a follow-up computes only its new tokens. Ctrl-C stops the current answer (at
// the prompt it exits); /reset, /save FILE, /load FILE (messages and state: a long conversation resumes
// at once), /stats, /help and /quit.
#include "device_option.h"
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command_registry.h"
#include "model_dir.h"
#include "strata/core/error.h"
#include "strata/engine/conversation_file.h"
#include "strata/engine/engine.h"
#include "strata/engine/session.h"
#include "strata/model/model.h"
#include "strata/server/chat_renderer.h"
#include "strata/tokenizer/tokenizer.h"

#ifndef STRATA_DEFAULT_MODEL_DIR
#define STRATA_DEFAULT_MODEL_DIR "models/demo"
#endif

namespace strata::cli {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

std::atomic<bool> g_interrupted{false};
void on_interrupt(int) { g_interrupted = true; }

struct ChatArgs {
  std::string model_dir, system, chat_template;
  engine::SamplingParams sampling;
  uint64_t seed = 0;
  bool has_seed = false;
  int64_t context = 4096;
  DeviceArgs device;
  int threads = 0;
};

// Without a chat template: a plain transcript the model continues after "Assistant:". An answer is
// written back exactly as generated after that colon, so the next turn's tokens extend this turn's and
// the stored state applies.
std::string plain_transcript(const ordered_json& messages, bool add_generation_prompt) {
  std::string text;
  for (const auto& m : messages) {
    const std::string role = m["role"].get<std::string>();
    if (role == "assistant")
      text += "Assistant:" + m["content"].get<std::string>() + "\n";
    else
      text += (role == "system" ? "System: " : "User: ") + m["content"].get<std::string>() + "\n";
  }
  if (add_generation_prompt) text += "Assistant:";
  return text;
}

struct TurnStats {
  engine::RequestStats stats;
  double seconds = 0;
  bool any = false;
};

void print_stats(const TurnStats& last, const ordered_json& messages, int64_t conversation_tokens) {
  std::printf("%s", fmt::format("conversation: {} messages, {} tokens\n", messages.size(), conversation_tokens).c_str());
  if (!last.any) {
    std::printf("no turn yet\n");
    return;
  }
  const engine::RequestStats& s = last.stats;
  const double decode = std::max(1e-9, last.seconds - s.first_token_seconds);
  std::printf("%s", fmt::format("last turn: prompt {} tokens ({} reused from the stored state, {} computed) in {:.3f} s; "
                                "{} generated at {:.1f} tokens/s\n",
                                s.prompt_tokens, s.reused_tokens, s.computed_tokens, s.first_token_seconds,
                                s.generated_tokens,
                                static_cast<double>(std::max<int64_t>(0, s.generated_tokens - 1)) / decode).c_str());
}

void run(ChatArgs a) {
  if (a.has_seed) a.sampling.seed = a.seed;
  a.sampling.validate();
  const std::filesystem::path dir = resolve_model_dir(a.model_dir);
  const auto tokenizer = load_model_tokenizer(dir);
  const auto model = model::Model::load(dir);
  const Placement placement = place_model(*model, a.device);
  const server::ChatRenderer renderer = server::load_chat_renderer(dir, tokenizer, a.chat_template);
  const bool templated = static_cast<bool>(renderer);

  engine::EngineOptions options;
  options.max_sequences = 1;
  options.max_context = a.context;
  options.prefix_store_bytes = size_t{512} << 20;
  options.threads = a.threads;
  options.cuda = placement.cuda.get();
  engine::Engine eng(*model, options);
  engine::Session session(tokenizer, eng);
  eng.start();

  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);  // no SA_RESTART: a read at the prompt returns on Ctrl-C

  const bool interactive = isatty(STDIN_FILENO);
  ordered_json messages = ordered_json::array();
  if (!a.system.empty()) messages.push_back({{"role", "system"}, {"content", a.system}});
  std::vector<int32_t> conversation;  // the last turn's prompt + answer tokens
  TurnStats last;
  if (interactive)
    std::fprintf(stderr, "%s", fmt::format("strata chat: {} ({}), {}; /help for commands, Ctrl-C stops an answer\n",
                                           dir.string(), model->config().model_type,
                                           templated ? "chat template" : "no chat template: plain transcript").c_str());
  for (;;) {
    if (interactive) std::fputs("> ", stdout), std::fflush(stdout);
    std::string line;
    g_interrupted = false;
    if (!std::getline(std::cin, line)) {
      if (interactive) std::fputc('\n', stdout);
      break;  // end of input or Ctrl-C at the prompt
    }
    if (line.empty()) continue;
    if (line[0] == '/') {
      const size_t space = line.find(' ');
      const std::string command = line.substr(0, space);
      const std::string argument = space == std::string::npos ? "" : line.substr(space + 1);
      try {
        if (command == "/quit" || command == "/exit") break;
        if (command == "/help") {
          std::printf("/reset  forget the conversation\n/save FILE  save messages and state\n"
                      "/load FILE  resume a saved conversation\n/stats  tokens and speed of the last turn\n/quit\n");
        } else if (command == "/reset") {
          messages = ordered_json::array();
          if (!a.system.empty()) messages.push_back({{"role", "system"}, {"content", a.system}});
          conversation.clear();
          last = {};
          std::printf("conversation reset\n");
        } else if (command == "/stats") {
          print_stats(last, messages, static_cast<int64_t>(conversation.size()));
        } else if (command == "/save") {
          if (argument.empty()) fail("/save needs a file name");
          engine::ConversationFile file;
          file.model_identity = model->identity();
          file.messages = json::parse(messages.dump());
          const cache::PrefixMatch match = eng.stored_state(conversation);
          if (match) {
            file.tokens.assign(conversation.begin(), conversation.begin() + match.tokens);
            file.state = *match.state;
          }
          engine::save_conversation(argument, file);
          std::printf("%s", fmt::format("saved {} messages and the state after {} tokens to {}\n", messages.size(),
                                        file.tokens.size(), argument).c_str());
        } else if (command == "/load") {
          if (argument.empty()) fail("/load needs a file name");
          engine::ConversationFile file = engine::load_conversation(argument);
          if (file.model_identity != model->identity())
            fail("{} was saved with another model ({}); this is {}", argument, file.model_identity, model->identity());
          if (!file.state.empty()) eng.store_state(file.tokens, std::move(file.state));
          messages = ordered_json::parse(file.messages.dump());
          conversation = file.tokens;
          std::printf("%s", fmt::format("loaded {} messages; the next turn resumes after {} tokens\n", messages.size(),
                                        conversation.size()).c_str());
        } else {
          fail("unknown command {} (/help lists them)", command);
        }
      } catch (const Error& e) {
        std::printf("error: %s\n", e.what());
      }
      std::fflush(stdout);
      continue;
    }

    messages.push_back({{"role", "user"}, {"content", line}});
    std::vector<int32_t> prompt;
    try {
      const std::string text = templated ? renderer(messages, nullptr, ordered_json::object(), true)
                                         : plain_transcript(messages, true);
      prompt = session.encode(text, /*add_special_tokens=*/!templated);
    } catch (const Error& e) {
      messages.erase(messages.size() - 1);
      std::printf("error: %s\n", e.what());
      continue;
    }
    engine::SamplingParams sampling = a.sampling;
    if (!templated) sampling.stop_strings.push_back("\nUser:");
    const int64_t room = a.context - static_cast<int64_t>(prompt.size());
    if (room < 1) {
      messages.erase(messages.size() - 1);
      std::printf("error: the conversation (%zu tokens) fills the context of %lld; /reset or start with a larger --context\n",
                  prompt.size(), static_cast<long long>(a.context));
      continue;
    }
    sampling.max_new_tokens = static_cast<int>(std::min<int64_t>(sampling.max_new_tokens, room));

    // The engine streams on its own thread; this one waits, and cancels on Ctrl-C.
    std::string answer;
    std::vector<int32_t> generated;
    std::promise<engine::Event> finished;
    std::future<engine::Event> done = finished.get_future();
    const auto start = std::chrono::steady_clock::now();
    const engine::RequestId id = session.submit(prompt, sampling, [&](const engine::Event& event) {
      if (event.kind == engine::Event::Kind::token) {
        generated.push_back(event.token);
        answer += event.text;
        std::fwrite(event.text.data(), 1, event.text.size(), stdout);
        std::fflush(stdout);
      } else {
        finished.set_value(event);
      }
    });
    bool cancelled = false;
    while (done.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready)
      if (g_interrupted && !cancelled) cancelled = eng.cancel(id);
    const engine::Event end = done.get();
    std::fputc('\n', stdout);
    if (end.reason == engine::FinishReason::error) {
      messages.erase(messages.size() - 1);
      std::printf("error: %s\n", end.message.c_str());
      continue;
    }
    if (cancelled) std::printf("[stopped]\n");
    messages.push_back({{"role", "assistant"}, {"content", answer}});
    conversation = prompt;
    conversation.insert(conversation.end(), generated.begin(), generated.end());
    last.stats = end.stats;
    last.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    last.any = true;
    std::fflush(stdout);
  }
  eng.stop();
}

const CommandRegistration registration(11, [](CLI::App& app) {
  auto a = std::make_shared<ChatArgs>();
  a->sampling.max_new_tokens = 512;
  a->sampling.temperature = 0.7f;
  CLI::App* cmd = app.add_subcommand("chat", "Chat with the model in the terminal (keeps the conversation's state)");
  cmd->add_option("MODEL_DIR", a->model_dir, "Hugging Face model directory or GGUF file (default: $STRATA_MODEL or the bundled demo model)");
  cmd->add_option("--system", a->system, "a system message to start the conversation with");
  cmd->add_option("--chat-template", a->chat_template, "a Jinja chat template file to use instead of the model's");
  cmd->add_option("-n,--max-tokens", a->sampling.max_new_tokens, "tokens per answer at most")->capture_default_str();
  cmd->add_option("--temperature,--temp", a->sampling.temperature, "0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", a->sampling.top_k, "keep the k most likely tokens (0 = off)");
  cmd->add_option("--top-p", a->sampling.top_p, "nucleus sampling mass (1 = off)");
  cmd->add_option("--min-p", a->sampling.min_p, "drop tokens below min_p x the top probability (0 = off)");
  cmd->add_option("--repeat-penalty", a->sampling.repetition_penalty, "repetition penalty (1 = off)");
  cmd->add_option("--seed", a->seed, "random seed")->each([a](const std::string&) { a->has_seed = true; });
  cmd->add_option("--context", a->context, "tokens the conversation may hold")->capture_default_str();
  cmd->add_option("-t,--threads", a->threads, "worker threads (0 = all cores)");
  add_device_options(cmd, a->device);
  cmd->callback([a] { run(*a); });
});

}  // namespace
}  // namespace strata::cli
