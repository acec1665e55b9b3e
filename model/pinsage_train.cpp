#include "model/pinsage_train.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "model/pinsage_impl.h"

namespace recd::model {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// One mini-batch as the producers hand it over: the computation graph of every
// item the loss needs, and where each role sits among the graph's seeds.
struct PreparedBatch {
  ComputationGraph graph;
  std::vector<int64_t> query, positive;  // one per pair
  std::vector<int64_t> negative;         // shared by the batch
  std::vector<int64_t> hard;             // pairs x hard_per_query
};

// Batches by index, produced out of order by several threads and taken in order;
// a producer waits while its batch is more than `depth` ahead of the consumer.
class BatchQueue {
 public:
  explicit BatchQueue(size_t depth) : depth_(depth) {}
  // False when the queue was closed (the consumer gave up).
  bool WaitForRoom(size_t index) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return closed_ || index < next_ + depth_; });
    return !closed_;
  }
  void Put(size_t index, PreparedBatch batch) {
    std::lock_guard lock(mu_);
    ready_.emplace(index, std::move(batch));
    cv_.notify_all();
  }
  PreparedBatch Take(size_t index) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return ready_.count(index) > 0; });
    PreparedBatch b = std::move(ready_.at(index));
    ready_.erase(index);
    next_ = index + 1;
    cv_.notify_all();
    return b;
  }
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<size_t, PreparedBatch> ready_;
  size_t next_ = 0;
  size_t depth_;
  bool closed_ = false;
};

class EpochBatches {
 public:
  EpochBatches(const Sampler& sampler, const std::vector<Neighbourhood>& hoods, const std::vector<std::pair<ItemId, ItemId>>& pairs,
               const std::vector<size_t>& order, const TrainingConfig& config, uint32_t epoch, uint32_t hard_per_query)
      : sampler_(sampler), hoods_(hoods), pairs_(pairs), order_(order), config_(config), epoch_(epoch),
        hard_per_query_(hard_per_query) {}

  PreparedBatch Prepare(size_t b) const {
    std::mt19937_64 rng(config_.seed * 0x9E3779B97F4A7C15ULL + epoch_ * 0xBF58476D1CE4E5B9ULL + b);
    const uint32_t num_items = static_cast<uint32_t>(hoods_.size());
    std::uniform_int_distribution<uint32_t> any_item(0, num_items - 1);
    PreparedBatch out;
    std::vector<ItemId> seeds;
    std::unordered_map<uint32_t, int64_t> position;
    auto seat = [&](ItemId item) {
      auto [it, added] = position.try_emplace(item.value, static_cast<int64_t>(seeds.size()));
      if (added) seeds.push_back(item);
      return it->second;
    };
    const size_t begin = b * config_.batch_size, end = std::min(order_.size(), begin + config_.batch_size);
    for (size_t k = begin; k < end; ++k) {
      const auto& [query, positive] = pairs_[order_[k]];
      out.query.push_back(seat(query));
      out.positive.push_back(seat(positive));
    }
    for (uint32_t r = 0; r < config_.random_negatives; ++r) out.negative.push_back(seat(ItemId(any_item(rng))));
    for (size_t k = begin; k < end && hard_per_query_ > 0; ++k) {
      const auto& [query, positive] = pairs_[order_[k]];
      const Neighbourhood ranked = sampler_.SampleRanked(query, epoch_, config_.hard_walks, config_.hard_rank_end);
      std::vector<ItemId> band;
      for (size_t r = config_.hard_rank_begin; r < ranked.items.size(); ++r) {
        if (ranked.items[r] != positive) band.push_back(ranked.items[r]);
      }
      for (uint32_t h = 0; h < hard_per_query_; ++h) {
        // A query whose walks reach too few items gets a random negative instead.
        const ItemId pick = band.empty() ? ItemId(any_item(rng)) : band[rng() % band.size()];
        out.hard.push_back(seat(pick));
      }
    }
    out.graph = BuildComputationGraph(seeds, hoods_, sampler_.config().layers, sampler_.config().top_t);
    return out;
  }

 private:
  const Sampler& sampler_;
  const std::vector<Neighbourhood>& hoods_;
  const std::vector<std::pair<ItemId, ItemId>>& pairs_;
  const std::vector<size_t>& order_;
  const TrainingConfig& config_;
  uint32_t epoch_;
  uint32_t hard_per_query_;
};

torch::Tensor Rows(const std::vector<int64_t>& rows, torch::Device device) {
  return torch::tensor(rows, torch::kInt64).to(device);
}

// HR@10 of pairs under unit-row embeddings on any device, in query chunks that
// keep the score matrix near 64M entries.
double HitRate(const torch::Tensor& embeddings, const std::vector<std::pair<ItemId, ItemId>>& pairs) {
  if (pairs.empty()) return 0;
  const int64_t n = embeddings.size(0);
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 26) / std::max<int64_t>(1, n));
  std::vector<int64_t> q, p;
  for (const auto& [a, b] : pairs) q.push_back(a.value), p.push_back(b.value);
  const auto queries = Rows(q, embeddings.device()), positives = Rows(p, embeddings.device());
  int64_t hits = 0;
  for (int64_t s = 0; s < static_cast<int64_t>(pairs.size()); s += chunk) {
    const int64_t len = std::min<int64_t>(chunk, static_cast<int64_t>(pairs.size()) - s);
    const auto qi = queries.narrow(0, s, len), pi = positives.narrow(0, s, len);
    const auto qe = embeddings.index_select(0, qi);
    auto scores = torch::matmul(qe, embeddings.t());
    scores.scatter_(1, qi.unsqueeze(1), -std::numeric_limits<float>::infinity());
    const auto target = scores.gather(1, pi.unsqueeze(1));
    const auto rank = (scores > target).sum(1);
    hits += (rank < 10).sum().item<int64_t>();
  }
  return static_cast<double>(hits) / static_cast<double>(pairs.size());
}

Status Checkpoint(const PinSage& model, const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name, tmp = path + ".tmp";
  RECD_RETURN_IF_ERROR(model.Save(tmp));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Status::IoError("cannot rename " + tmp + " to " + path);
  return Status::Ok();
}

}  // namespace

double PairHitRate(const std::vector<float>& embeddings, size_t dim, const std::vector<std::pair<ItemId, ItemId>>& pairs) {
  torch::NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(embeddings.size() / dim);
  const auto e = torch::from_blob(const_cast<float*>(embeddings.data()), {n, static_cast<int64_t>(dim)}, torch::kFloat32);
  return HitRate(e, pairs);
}

Result<TrainingReport> Train(PinSage& model, const Sampler& sampler, const NodeFeatures& features,
                             const PositivePairs& pairs, const TrainingConfig& config,
                             const std::function<void(const EpochReport&)>& on_epoch) {
  const size_t num_items = features.id_bucket.size();
  if (pairs.train.empty()) {
    return Status::InvalidArgument(
        "no positive training pairs: PinSage needs users with two different items close in time (see PairConfig)");
  }
  if (num_items == 0 || num_items > sampler.num_items()) {
    return Status::InvalidArgument("features describe " + std::to_string(num_items) + " items, the sampler's graph " +
                                   std::to_string(sampler.num_items()));
  }
  if (static_cast<int64_t>(sampler.config().layers) != model.config().layers) {
    return Status::InvalidArgument("the sampler builds " + std::to_string(sampler.config().layers) +
                                   "-layer computation graphs, the model has " + std::to_string(model.config().layers));
  }
  if (config.batch_size == 0 || config.epochs == 0) return Status::InvalidArgument("batch_size and epochs must be >= 1");
  if (config.hard_rank_begin >= config.hard_rank_end && config.max_hard_negatives > 0) {
    return Status::InvalidArgument("hard_rank_begin must be below hard_rank_end");
  }
  std::vector<std::pair<ItemId, ItemId>> train, validation;
  for (const auto& p : pairs.train) {
    if (p.first.value < num_items && p.second.value < num_items) train.push_back(p);
  }
  for (const auto& p : pairs.validation) {
    if (p.first.value < num_items && p.second.value < num_items) validation.push_back(p);
  }
  if (validation.size() > config.max_validation_pairs) {
    std::mt19937_64 rng(config.seed);
    std::shuffle(validation.begin(), validation.end(), rng);
    validation.resize(config.max_validation_pairs);
  }
  const uint32_t producers = config.producer_threads
                                 ? config.producer_threads
                                 : std::max(1u, std::thread::hardware_concurrency() - 1);
  auto& impl = model.impl();
  TrainingReport report;
  try {
    torch::manual_seed(config.seed);
    const auto catalogue = impl.Upload(features);
    torch::optim::Adam optimiser(impl.net->parameters(), torch::optim::AdamOptions(config.learning_rate));
    // Validation embeds with the inference neighbourhoods (round 0), fixed across epochs.
    const std::vector<Neighbourhood> inference_hoods = sampler.SampleCatalogue(num_items, 0);
    auto embed_catalogue = [&] {
      torch::NoGradGuard no_grad;
      impl.net->eval();
      auto e = impl.EmbedAll(inference_hoods, features, 8192, config.cancel);
      impl.net->train();
      return e;
    };
    std::vector<torch::Tensor> best_state;
    torch::Tensor best_embeddings;  // the catalogue under best_state, when validation computed it
    auto snapshot = [&](const torch::Tensor& embeddings) {
      best_state.clear();
      for (const auto& t : impl.net->parameters()) best_state.push_back(t.detach().clone());
      best_embeddings = embeddings;
    };
    uint32_t since_best = 0;
    for (uint32_t epoch = 1; epoch <= config.epochs; ++epoch) {
      EpochReport er;
      er.epoch = epoch;
      er.hard_negatives = std::min(epoch - 1, config.max_hard_negatives);
      const auto t0 = Clock::now();
      const std::vector<Neighbourhood> hoods = sampler.SampleCatalogue(num_items, epoch);
      er.sampling_seconds = Since(t0);
      std::vector<size_t> order(train.size());
      for (size_t k = 0; k < order.size(); ++k) order[k] = k;
      std::mt19937_64 shuffle_rng(config.seed + epoch);
      std::shuffle(order.begin(), order.end(), shuffle_rng);
      size_t batches = (order.size() + config.batch_size - 1) / config.batch_size;
      if (config.max_batches_per_epoch) batches = std::min(batches, config.max_batches_per_epoch);
      const EpochBatches source(sampler, hoods, train, order, config, epoch, er.hard_negatives);
      BatchQueue queue(std::max<uint32_t>(1, config.prefetch_batches));
      std::vector<std::thread> threads;
      for (uint32_t t = 0; t < producers; ++t) {
        threads.emplace_back([&, t] {
          for (size_t b = t; b < batches; b += producers) {
            if (!queue.WaitForRoom(b)) return;
            queue.Put(b, source.Prepare(b));
          }
        });
      }
      struct JoinOnExit {
        BatchQueue& queue;
        std::vector<std::thread>& threads;
        ~JoinOnExit() {
          queue.Close();
          for (auto& t : threads) t.join();
        }
      } join_on_exit{queue, threads};
      impl.net->train();
      torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().device(impl.device));
      for (size_t b = 0; b < batches; ++b) {
        if (config.cancel && config.cancel->load()) return Status::Aborted("training cancelled");
        const auto wait0 = Clock::now();
        const PreparedBatch pb = queue.Take(b);
        er.device_wait_seconds += Since(wait0);
        const auto emb = impl.Forward(impl.ToTensors(pb.graph, catalogue));
        const auto q = emb.index_select(0, Rows(pb.query, impl.device));
        const auto p = emb.index_select(0, Rows(pb.positive, impl.device));
        const auto n = emb.index_select(0, Rows(pb.negative, impl.device));
        const auto positive_score = (q * p).sum(1, /*keepdim=*/true);
        auto loss = torch::relu(torch::matmul(q, n.t()) - positive_score + config.margin).mean();
        if (!pb.hard.empty()) {
          const int64_t h = static_cast<int64_t>(pb.hard.size() / pb.query.size());
          const auto hn = emb.index_select(0, Rows(pb.hard, impl.device)).view({q.size(0), h, -1});
          loss = loss + torch::relu((q.unsqueeze(1) * hn).sum(2) - positive_score + config.margin).mean();
        }
        optimiser.zero_grad();
        loss.backward();
        optimiser.step();
        loss_sum += loss.detach();
        er.pairs += pb.query.size();
      }
      er.batches = batches;
      er.loss = loss_sum.item<double>() / static_cast<double>(std::max<size_t>(1, batches));
      torch::Tensor embeddings;
      if (!validation.empty()) {
        embeddings = embed_catalogue();
        er.validation_hr_at_10 = HitRate(embeddings, validation);
      }
      er.seconds = Since(t0);
      report.epochs.push_back(er);
      const bool improved = validation.empty() || report.best_epoch == 0 ||
                            er.validation_hr_at_10 > report.best_validation_hr_at_10;
      if (improved) {
        report.best_epoch = epoch;
        report.best_validation_hr_at_10 = er.validation_hr_at_10;
        since_best = 0;
        snapshot(embeddings);
      } else {
        ++since_best;
      }
      if (!config.checkpoint_dir.empty()) {
        RECD_RETURN_IF_ERROR(Checkpoint(model, config.checkpoint_dir, "last.pt"));
        if (improved) RECD_RETURN_IF_ERROR(Checkpoint(model, config.checkpoint_dir, "best.pt"));
      }
      if (on_epoch) on_epoch(er);
      if (!validation.empty() && since_best >= config.patience) {
        report.stopped_early = epoch < config.epochs;
        break;
      }
    }
    // Without validation pairs every epoch "improves", so the last one is kept.
    {
      torch::NoGradGuard no_grad;
      auto params = impl.net->parameters();
      for (size_t k = 0; k < params.size(); ++k) params[k].copy_(best_state[k]);
    }
    if (!best_embeddings.defined()) best_embeddings = embed_catalogue();
    const auto host = best_embeddings.to(torch::kCPU).contiguous();
    report.embeddings.assign(host.data_ptr<float>(), host.data_ptr<float>() + host.numel());
  } catch (const PinSage::Impl::Cancelled&) {
    return Status::Aborted("training cancelled");
  } catch (const c10::Error& e) {
    return Status::Internal(std::string("PinSage training: ") + e.what_without_backtrace());
  }
  return report;
}

}  // namespace recd::model
