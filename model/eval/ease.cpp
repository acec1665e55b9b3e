// EASE (Steck, "Embarrassingly Shallow Autoencoders", WWW 2019): item-item
// weights B = I - P diag(1/diag(P)), P = (X'X + lambda I)^-1, with a zero
// diagonal, X the binary user x item matrix; a user's scores are x_u B. Rebuilt
// from scratch in event time (the closed form has no cheap update), over the
// most popular items when the catalogue is larger than a dense n x n allows.
#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <numeric>

#include "model/eval/baselines_impl.h"

namespace recd::eval {
namespace {

class Ease : public ScoringBaseline {
 public:
  explicit Ease(const StreamingBaselineSettings& s)
      : lambda_(s.ease_lambda),
        rebuild_ms_(static_cast<EpochMillis>(s.ease_rebuild_days * 86'400'000.0)),
        max_items_(s.ease_max_items) {}
  std::string name() const override { return "EASE"; }

  void Score(uint32_t user, const StreamHistory& history, std::vector<double>* scores) override {
    scores->assign(history.num_items(), kNoScore);
    if (columns_.empty()) return;
    if (user >= cache_.size()) cache_.resize(user + 1);
    UserScores& c = cache_[user];
    if (c.version != version_) c = UserScores{version_, 0, Eigen::VectorXf::Zero(static_cast<Eigen::Index>(columns_.size()))};
    const auto& firsts = history.FirstTouches(user);
    for (; c.added < firsts.size(); ++c.added) {
      const uint32_t item = firsts[c.added];
      if (item < column_of_.size() && column_of_[item] >= 0) c.scores += weights_.row(column_of_[item]).transpose();
    }
    for (size_t col = 0; col < columns_.size(); ++col) (*scores)[columns_[col]] = c.scores[static_cast<Eigen::Index>(col)];
  }

  void Learn(const StreamingInteraction& x, const StreamHistory& history) override {
    ++interactions_;
    if (interactions_ >= 2 * built_at_interactions_ || x.ts >= built_at_ts_ + rebuild_ms_) Rebuild(history, x.ts);
  }

 private:
  struct UserScores {
    uint64_t version = 0;
    size_t added = 0;  // first touches summed into `scores`
    Eigen::VectorXf scores;
  };

  void Rebuild(const StreamHistory& history, EpochMillis now) {
    built_at_interactions_ = interactions_;
    built_at_ts_ = now;
    ++version_;
    // The columns: the most touched items, at most max_items_.
    const auto& users_of = history.users_per_item();
    columns_.resize(users_of.size());
    std::iota(columns_.begin(), columns_.end(), 0u);
    if (columns_.size() > max_items_) {
      std::partial_sort(columns_.begin(), columns_.begin() + static_cast<ptrdiff_t>(max_items_), columns_.end(),
                        [&](uint32_t a, uint32_t b) { return users_of[a] > users_of[b] || (users_of[a] == users_of[b] && a < b); });
      columns_.resize(max_items_);
    }
    column_of_.assign(users_of.size(), -1);
    for (size_t c = 0; c < columns_.size(); ++c) column_of_[columns_[c]] = static_cast<int32_t>(c);
    const auto n = static_cast<Eigen::Index>(columns_.size());
    Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(n, n);
    std::vector<int32_t> cols;
    for (uint32_t u = 0; u < history.num_users(); ++u) {
      cols.clear();
      for (uint32_t item : history.FirstTouches(u)) {
        if (column_of_[item] >= 0) cols.push_back(column_of_[item]);
      }
      for (int32_t a : cols) {
        for (int32_t b : cols) gram(a, b) += 1;
      }
    }
    gram.diagonal().array() += lambda_;
    const Eigen::MatrixXd p = gram.llt().solve(Eigen::MatrixXd::Identity(n, n));
    weights_.resize(n, n);
    for (Eigen::Index j = 0; j < n; ++j) {
      weights_.col(j) = (-p.col(j) / p(j, j)).cast<float>();
      weights_(j, j) = 0;
    }
  }

  double lambda_;
  EpochMillis rebuild_ms_;
  size_t max_items_;
  uint64_t interactions_ = 0, built_at_interactions_ = 0;
  EpochMillis built_at_ts_ = 0;
  uint64_t version_ = 0;
  std::vector<uint32_t> columns_;  // column -> item
  std::vector<int32_t> column_of_; // item -> column, -1 when not modelled
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> weights_;
  std::vector<UserScores> cache_;
};

}  // namespace

std::unique_ptr<StreamingBaseline> MakeEase(const StreamingBaselineSettings& settings) {
  return std::make_unique<Ease>(settings);
}

}  // namespace recd::eval
