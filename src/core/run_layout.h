// The words of a run's layout that several rooms share: which backend
// computes, and how row-parallel layers are summed. The sweep config parses
// them, run files store them as typed attributes (docs/run_file.md), metrics
// compares them. Each enum has one table of names, as configs and files
// spell them; Name, Parse and NameList read it.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace qsweep {

enum class BackendKind { kCpu, kCuda };

// How row-parallel layers are summed (DecoderOptions::tp_invariant):
// kTpInvariant gives the same bits at every tp; kFast adds one product per
// rank straight into the residual, so its rounding depends on tp.
enum class Reduction { kTpInvariant, kFast };

template <typename E>
struct EnumName {
  E value;
  std::string_view name;
};

inline constexpr EnumName<BackendKind> kBackendNames[] = {{BackendKind::kCpu, "cpu"}, {BackendKind::kCuda, "cuda"}};
inline constexpr EnumName<Reduction> kReductionNames[] = {{Reduction::kTpInvariant, "tp_invariant"},
                                                          {Reduction::kFast, "fast"}};

constexpr std::span<const EnumName<BackendKind>> NamesOf(BackendKind) { return kBackendNames; }
constexpr std::span<const EnumName<Reduction>> NamesOf(Reduction) { return kReductionNames; }

template <typename E>
concept NamedEnum = requires(E e) { NamesOf(e); };

template <NamedEnum E>
std::string_view Name(E value) {
  for (const EnumName<E>& n : NamesOf(value))
    if (n.value == value) return n.name;
  return "?";
}

// The value a name spells; nullopt for any other text.
template <NamedEnum E>
std::optional<E> Parse(std::string_view name) {
  for (const EnumName<E>& n : NamesOf(E{}))
    if (n.name == name) return n.value;
  return std::nullopt;
}

// "cpu or cuda": every name, for messages.
template <NamedEnum E>
std::string NameList() {
  std::string list;
  const auto names = NamesOf(E{});
  for (size_t i = 0; i < names.size(); ++i)
    list += std::string(i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + std::string(names[i].name);
  return list;
}

}  // namespace qsweep
